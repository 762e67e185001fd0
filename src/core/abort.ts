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

/**
 * A signal for one bounded operation: aborted when `parent` aborts or after `ms`, whichever comes first;
 * `done()` releases its timer and its listener on `parent` once the operation is over. Not
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 a timeout signal held only by a combined
 * signal can be garbage-collected before it fires (nodejs/node issue 57736), and the operation it bounds then
 * never times out; under load, where collections come often, a probe of a black-holed stream hung that way.
 * The timer here is held by the event loop until it fires or `done()` clears it.
 */
export function boundedSignal(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const onParent = (): void => controller.abort(parent!.reason);
  const timer = setTimeout(() => {
    parent?.removeEventListener('abort', onParent);
    controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError'));
  }, ms);
  // The operation is what keeps the process alive, not its deadline.
  timer.unref();
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
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
