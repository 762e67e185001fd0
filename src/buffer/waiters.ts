import { abortError } from '../core/abort.js';

/**
 * Callers waiting for a condition about the buffer (new records, free space). `wakeAll` re-checks every
 * waiter after a change; a waiter leaves when its condition holds or its signal aborts.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  until(ready: () => boolean, signal: AbortSignal): Promise<void> {
    if (ready()) return Promise.resolve();
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        if (!ready()) return;
        this.waiting.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiting.delete(wake);
        reject(abortError(signal));
      };
      this.waiting.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  wakeAll(): void {
    for (const wake of [...this.waiting]) wake();
  }
}
