import net from 'node:net';
import type { AddressInfo } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface Mqtt5Connect {
  clientId: string;
  clean: boolean;
  protocolVersion: number;
  sessionExpiryInterval: number | undefined;
}

/**
 * A minimal MQTT 5 endpoint (aedes 1.2 speaks only 3.1/3.1.1): it accepts CONNECT, acknowledges
 * PUBLISH at QoS 1 (PUBACK) and 2 (PUBREC/PUBCOMP), answers PINGREQ, and records what it saw.
 */
export async function startMqtt5Endpoint(): Promise<{ url: string; connects: Mqtt5Connect[]; publishes: Array<{ topic: string; qos: number; payload: Buffer }>; close(): Promise<void> }> {
  const connects: Mqtt5Connect[] = [];
  const publishes: Array<{ topic: string; qos: number; payload: Buffer }> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const send = (packet: Record<string, unknown>): void => {
      socket.write(mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: 5 }));
    };
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'connect') {
        connects.push({ clientId: p.clientId, clean: p.clean ?? true, protocolVersion: p.protocolVersion ?? 0, sessionExpiryInterval: p.properties?.sessionExpiryInterval });
        send({ cmd: 'connack', reasonCode: 0, sessionPresent: false });
      } else if (p.cmd === 'publish') {
        publishes.push({ topic: p.topic, qos: p.qos, payload: Buffer.from(p.payload) });
        if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 });
        if (p.qos === 2) send({ cmd: 'pubrec', messageId: p.messageId, reasonCode: 0 });
      } else if (p.cmd === 'pubrel') send({ cmd: 'pubcomp', messageId: p.messageId, reasonCode: 0 });
      else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' });
      else if (p.cmd === 'disconnect') socket.end();
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connects,
    publishes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
