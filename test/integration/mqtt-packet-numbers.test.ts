import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { openTempLevelBuffer, startBrokerSource } from '../helpers/broker-on-buffer.js';

/** The mqtt-packet that aedes itself loads (resolved from aedes' own directory, as Node resolves its import). */
function aedesMqttPacketPath(): string {
  const aedesEntry = fileURLToPath(import.meta.resolve('aedes'));
  return createRequire(aedesEntry).resolve('mqtt-packet');
}

describe('mqtt-packet number table (src/sources/mqtt-packet-numbers.ts)', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('aedes writes with the same mqtt-packet the gateway switches', () => {
    // A second copy nested under aedes would keep its 65,536-entry table whatever the gateway sets.
    expect(aedesMqttPacketPath()).toBe(createRequire(import.meta.url).resolve('mqtt-packet'));
  });

  it('builds no table of 65,536 Buffers while the embedded broker acknowledges real publishes', async () => {
    const buffer = await openTempLevelBuffer(closers);
    const { url } = await startBrokerSource(buffer, closers);

    const device = await mqtt.connectAsync(url, { clientId: 'numbers', reconnectPeriod: 0 });
    closers.push(() => device.endAsync(true));
    for (let seq = 1; seq <= 20; seq++) {
      await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq, temperature: 21.5 }), { qos: 1 });
    }

    // Every PUBACK carried its packet identifier, written by number, and the readings are stored.
    expect((await buffer.read('telemetry', 0, 100)).map((r) => JSON.parse(r.data.toString()).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const numbers = createRequire(aedesMqttPacketPath())('./numbers.js') as { cache: Record<number, Buffer> };
    expect(Object.keys(numbers.cache)).toHaveLength(0);
    expect(createRequire(aedesMqttPacketPath())('./writeToStream.js').cacheNumbers).toBe(false);
  });
});
