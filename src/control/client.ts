import net from 'node:net';
import { createInterface } from 'node:readline';
import { TidegateError } from '../core/errors.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

/**
 * Sends one request to a running gateway. Resolves `null` when no gateway listens on the socket (so the
 * caller can open the data dir itself), rejects when the gateway answers with an error or not in time.
 */
export function controlRequest(socketPath: string, request: ControlRequest, timeoutMs = 10_000): Promise<unknown | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TidegateError('ERR_TIMEOUT', `the gateway did not answer on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(null);
      else reject(err);
    });
    socket.once('connect', () => {
      // Read only once connected: a readline interface re-emits connection errors as its own.
      createInterface({ input: socket }).once('line', (line) => {
        clearTimeout(timer);
        socket.end();
        const response = JSON.parse(line) as ControlResponse;
        if (response.ok) resolve(response.result);
        else reject(new Error(response.error));
      });
      socket.write(`${JSON.stringify(request)}\n`);
    });
  });
}
