import { abortError } from '../../core/abort.js';

/**
 * A bound on messages being stored at once. When full, `acquire` waits (whenFull: block): the connection
 * reads no further packet, TCP pushes back, and the broker keeps the rest queued in the session.
 * A slot is freed when its commit settles, which `buffer.commitTimeoutMs` bounds.
 */
export class InFlightLimit {
  private used = 0;
  private readonly waiters: Array<{ resolve(): void; reject(err: unknown): void; signal: AbortSignal; onAbort(): void }> = [];

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.used;
  }

  /** Resolves once a slot is taken; rejects with ERR_ABORTED when `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.used < this.max) {
      this.used += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortError(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      // The slot passes straight to the next waiter.
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve();
    } else {
      this.used -= 1;
    }
  }
}
