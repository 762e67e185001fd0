import net from 'node:net';
import { once } from 'node:events';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * An MQTT connection at the byte level (mqtt-packet over a plain socket): sends exactly the packets a test
 * builds, including ones MQTT.js would refuse to send, and collects what the broker answers.
 */
export interface RawConnection {
  socket: net.Socket;
  received: Packet[];
  /** Resolves when the broker closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  send(packet: object, protocolVersion?: number): void;
  /** The next packet of this type (already received or still to come); rejects after timeoutMs or on close. */
  next(cmd: Packet['cmd'], timeoutMs?: number): Promise<Packet>;
  end(): void;
}

export async function rawConnect(port: number, protocolVersion = 4): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const parser = mqttPacket.parser({ protocolVersion });
  const received: Packet[] = [];
  const waiters = new Set<() => void>();
  let isClosed = false;
  parser.on('packet', (p: Packet) => {
    received.push(p);
    for (const w of [...waiters]) w();
  });
  parser.on('error', () => undefined);
  socket.on('data', (d: Buffer) => parser.parse(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const w of [...waiters]) w();
      resolve();
    }),
  );
  let taken = 0;
  return {
    socket,
    received,
    closed,
    isClosed: () => isClosed,
    send: (packet, version = protocolVersion) => socket.write(mqttPacket.generate(packet as Packet, { protocolVersion: version })),
    next: (cmd, timeoutMs = 5_000) =>
      new Promise<Packet>((resolve, reject) => {
        const check = (): void => {
          const index = received.findIndex((p, i) => i >= taken && p.cmd === cmd);
          if (index >= 0) {
            taken = index + 1;
            done();
            return resolve(received[index]!);
          }
          if (isClosed) {
            done();
            reject(new Error(`connection closed before a ${cmd} arrived (received: ${received.map((p) => p.cmd).join(', ') || 'nothing'})`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${cmd} within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    end: () => socket.destroy(),
  };
}

/** A CONNECT packet with sensible defaults. */
export function connectPacket(fields: Record<string, unknown> = {}): object {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-client', keepalive: 30, ...fields };
}

/** Connects and returns the CONNACK return code and the open connection. */
export async function rawConnack(port: number, fields: Record<string, unknown> = {}): Promise<{ returnCode: number; conn: RawConnection }> {
  const conn = await rawConnect(port);
  conn.send(connectPacket(fields), 4);
  const connack = (await conn.next('connack')) as Packet & { returnCode: number };
  return { returnCode: connack.returnCode, conn };
}

/** Resolves true when the connection closes within timeoutMs. */
export function closesWithin(conn: RawConnection, timeoutMs: number): Promise<boolean> {
  return Promise.race([conn.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
}
