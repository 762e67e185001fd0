import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { PacketSizeGuard, type PacketLimits, type Violation } from './packet-size-guard.js';

/**
 * A duplex over a client socket that lets bytes through to aedes only after the size guard has seen
 * them: an oversize packet closes the connection after at most its header was read.
 */
export class GuardedConnection extends Duplex {
  /** `address:port` of the peer, for logs and dead letters before the client has an id. */
  readonly peer: string;
  private readonly guard: PacketSizeGuard;

  constructor(
    readonly socket: Socket,
    limits: PacketLimits,
    onViolation: (v: Violation, conn: GuardedConnection) => void,
    /** Called once, before the first bytes that passed the guard are handed on. */
    onFirstBytes?: (conn: GuardedConnection) => void,
  ) {
    super({ allowHalfOpen: false });
    this.peer = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.guard = new PacketSizeGuard(limits);
    socket.on('data', (chunk: Buffer) => {
      const violation = this.guard.inspect(chunk);
      if (violation) {
        onViolation(violation, this);
        socket.destroy();
        this.destroy();
        return;
      }
      if (onFirstBytes) {
        const first = onFirstBytes;
        onFirstBytes = undefined;
        first(this);
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.socket.write(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
