/**
 * A benchmark that could not measure what it reports must not print a number: it stops with this error,
 * so the run exits non-zero (an unhandled rejection of the top-level await) after its `finally` has stopped
 * the child processes, and the message says which measurement is missing and why.
 */
export class BenchNotMeasuredError extends Error {
  readonly code = 'ERR_BENCH_NOT_MEASURED';

  constructor(message: string) {
    super(`benchmark not measured: ${message}`);
    this.name = 'BenchNotMeasuredError';
  }
}

/** Throws BenchNotMeasuredError with `message` unless `ok`. */
export function requireMeasured(ok: boolean, message: string): asserts ok {
  if (!ok) throw new BenchNotMeasuredError(message);
}
