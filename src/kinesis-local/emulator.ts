import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, TidegateError } from '../core/errors.js';

/** Credentials the local emulator accepts (it checks the signature's shape, not the keys). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'tidegate-local', secretAccessKey: 'tidegate-local' };
/** kinesalite has no regions; the SDK needs one to sign. */
export const LOCAL_REGION = 'us-east-1';

export interface LocalEmulator {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts kinesalite in this process, in memory, bound to loopback only (its CLI would bind every
 * interface). Plain HTTP: its bundled TLS certificate expired long ago.
 */
export async function startLocalEmulator(host: string, port: number): Promise<LocalEmulator> {
  // Loaded only when used: it costs ~13 MB of memory that a gateway forwarding to AWS does not need.
  const { default: kinesalite } = await import('kinesalite');
  const server: Server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 64 });
  server.keepAliveTimeout = 60_000;
  server.listen(port, host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  } catch (err) {
    throw new TidegateError(
      'ERR_EMULATOR_START',
      `cannot start the local Kinesis emulator on ${host}:${port}: ${describeError(err)} (is another tidegate running? set kinesis.local.port)`,
      { cause: err },
    );
  }
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    endpoint: `http://${urlHost}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
