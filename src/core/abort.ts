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
