import { TidegateError } from './errors.js';

/** Resolves after `ms`, or rejects with ERR_ABORTED as soon as `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A wait that can be cut short without an error: `promise` resolves after `ms`, when `signal` aborts, or
 * when `cancel()` is called, and the timer and listener are released at once. For loops that wait on every
 * cycle: unlike `delay(ms, AbortSignal.any([...]))` it allocates no combined signal (which Node 20 keeps
 * referenced from a long-lived source signal, nodejs/node issue 55351) and no Error per early end.
 */
export function cancellableWait(ms: number, signal: AbortSignal): { promise: Promise<void>; cancel(): void } {
  let cancel = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    cancel = done;
  });
  return { promise, cancel };
}

export function abortError(signal: AbortSignal): TidegateError {
  return new TidegateError('ERR_ABORTED', 'operation aborted', { cause: signal.reason });
}

/**
 * Races `work` against a timeout and an abort signal. The work itself is not cancelled (callers pass the
 * same signal into it where the API accepts one); this bounds how long the caller waits.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TidegateError('ERR_TIMEOUT', `${what} did not finish within ${ms} ms`)), ms);
    if (signal) {
      if (signal.aborted) reject(abortError(signal));
      onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([work, bound]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
