import { createRequire } from 'node:module';
import net from 'node:net';
import { once } from 'node:events';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { SiteConnection } from '../../src/sources/mqtt-client/site-connection.js';

// A file of its own: the switch is process-wide, and the broker source's test turns it off too.
describe('mqtt-packet number table, site-broker client (writeCache in src/sources/mqtt-client/site-connection.ts)', () => {
  it('builds no table of 65,536 Buffers while the client connects and subscribes to a real broker', async () => {
    const broker = await Aedes.createBroker();
    const server = net.createServer((socket) => broker.handle(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const site = new SiteConnection({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'numbers-site',
      protocolVersion: 4,
      sessionExpirySeconds: 0,
      receiveMaximum: 10,
      connectTimeoutMs: 5_000,
      keepaliveSeconds: 30,
      onPublish: async () => undefined,
    });
    try {
      await site.connected;
      // SUBSCRIBE carries a packet identifier and a topic length, both written as two-byte numbers.
      expect(await site.subscribe([{ topic: 'site/#', qos: 1 }])).toEqual([{ topic: 'site/#', qos: 1 }]);
      const mqttPacket = createRequire(import.meta.url).resolve('mqtt-packet');
      expect(Object.keys((createRequire(mqttPacket)('./numbers.js') as { cache: object }).cache)).toHaveLength(0);
    } finally {
      await site.close(true);
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  });
});
