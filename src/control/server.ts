import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describeError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

// A request line longer than this is not ours: close the connection rather than buffer it.
const MAX_REQUEST_BYTES = 64 * 1024;

/** Serves the control protocol on a Unix socket; one connection handles its requests in order. */
export class ControlServer implements Component {
  readonly id = 'control';
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly handle: ControlHandler,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    // A socket file left by a gateway that was killed: nothing listens on it any more.
    await unlink(this.socketPath).catch(() => undefined);
    const server = net.createServer((socket) => this.serve(socket));
    server.listen(this.socketPath);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
    await chmod(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.socketPath).catch(() => undefined);
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let chain = Promise.resolve();
    let seen = 0;
    socket.on('data', (d: Buffer) => {
      seen += d.length;
      if (seen > MAX_REQUEST_BYTES) socket.destroy();
    });
    createInterface({ input: socket }).on('line', (line) => {
      seen = 0;
      chain = chain.then(async () => {
        let response: ControlResponse;
        try {
          response = { ok: true, result: await this.handle(JSON.parse(line) as ControlRequest) };
        } catch (err) {
          response = { ok: false, error: describeError(err) };
          this.logger.debug({ err: response.error }, 'control request failed');
        }
        if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
      });
    });
  }
}
