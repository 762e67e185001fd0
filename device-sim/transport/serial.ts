/**
 * A serial port as a transport: one "connection" carrying every device as
 * lines (framing is the encoder's job). There are no acknowledgements on a
 * serial line, so a reading counts as done once the port has written it, and
 * backpressure is the port's own: publish only while it does not need drain.
 */
import { SerialPort } from 'serialport';
import type { SerialPlan } from '../plan.js';
import { ConnectError, IdleWaiters, type PublishDone, type Transport } from './types.js';

export class SerialTransport implements Transport {
  private port: SerialPort | undefined;
  private pending = 0;
  private readonly idle = new IdleWaiters();
  onCapacity: ((conn: number) => void) | undefined;
  connectionErrors = 0;
  readonly reconnects = 0;
  readonly connections = 1;

  constructor(private readonly plan: SerialPlan) {}

  get inflight(): number {
    return this.pending;
  }

  get connectedCount(): number {
    return this.port?.isOpen ? 1 : 0;
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const { path, baudRate, connectTimeoutMs } = this.plan;
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    this.port = port;
    port.on('error', () => {
      this.connectionErrors++;
    });
    port.on('drain', () => this.onCapacity?.(0));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs / 1000} s`)), connectTimeoutMs);
        onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        port.open((err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      throw new ConnectError(
        `cannot open serial port ${path} at ${baudRate} baud: ${(err as Error).message}. Check the path and permissions ` +
          '(for a test pair: socat -d -d pty,raw,echo=0,link=/tmp/ttyA pty,raw,echo=0,link=/tmp/ttyB, then --serial /tmp/ttyA).',
      );
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  canPublish(): boolean {
    const p = this.port;
    return p !== undefined && p.isOpen && !p.writableNeedDrain;
  }

  publish(_conn: number, _topic: string, payload: string | Buffer, done: PublishDone): void {
    const p = this.port as SerialPort;
    this.pending++;
    p.write(payload, (err) => {
      this.pending--;
      done(err ?? undefined);
      if (this.pending === 0) this.idle.notify();
    });
  }

  disrupt(): void {
    // A serial line has no connections to drop; the plan rejects storms for serial runs.
  }

  whenIdle(timeoutMs: number): Promise<boolean> {
    return this.idle.wait(() => this.pending === 0, timeoutMs);
  }

  async close(force: boolean): Promise<void> {
    const p = this.port;
    if (!p?.isOpen) return;
    if (!force) await new Promise<void>((resolve) => p.drain(() => resolve()));
    await new Promise<void>((resolve) => p.close(() => resolve()));
  }
}
