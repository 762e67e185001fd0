import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

export interface ReceivedPublish {
  topic: string;
  clientId: string;
  qos: number;
  payload: Buffer;
  /** The payload as JSON, when it is JSON. */
  body: Record<string, unknown> | undefined;
}

export interface ConnectRecord {
  clientId: string;
  clean: boolean;
  protocolVersion: number;
  username: string | undefined;
}

export interface TestBroker {
  url: string;
  received: ReceivedPublish[];
  connects: ConnectRecord[];
  /** Resolves once at least n publishes arrived; rejects after timeoutMs (bounded, event-driven). */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  tls?: tls.TlsOptions;
  /** Accept a client when this returns true. */
  authenticate?: (username: string | undefined, password: string | undefined) => boolean;
}

/**
 * A real aedes broker on an ephemeral loopback port, plain TCP or TLS. Publishes are recorded in
 * authorizePublish, which aedes runs before it writes the PUBACK, so once a client has seen every
 * ack the broker has recorded every publish.
 */
export async function startTestBroker(opts: BrokerOptions = {}): Promise<TestBroker> {
  const received: ReceivedPublish[] = [];
  const connects: ConnectRecord[] = [];
  const waiters = new Set<() => void>();
  const broker = await Aedes.createBroker({
    preConnect: (client, packet, cb) => {
      connects.push({ clientId: packet.clientId, clean: packet.clean !== false, protocolVersion: packet.protocolVersion ?? 4, username: packet.username });
      cb(null, true);
    },
    authenticate: (_client, username, password, cb) => {
      const ok = opts.authenticate ? opts.authenticate(username, password?.toString()) : true;
      if (ok) cb(null, true);
      else cb(Object.assign(new Error('bad credentials'), { returnCode: 4 }) as never, false);
    },
    authorizePublish: (client, packet, cb) => {
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(packet.payload.toString()) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      received.push({ topic: packet.topic, clientId: client?.id ?? '', qos: packet.qos, payload: Buffer.from(packet.payload), body });
      for (const w of [...waiters]) w();
      cb(null);
    },
  });
  const server = opts.tls ? tls.createServer(opts.tls, broker.handle) : net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    received,
    connects,
    waitForCount: (n, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (received.length >= n) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`broker saw ${received.length} of ${n} publishes within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = (): void => {
          if (received.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      }),
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
