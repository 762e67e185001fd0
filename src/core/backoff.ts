/**
 * Exponential backoff with "full jitter" (a uniformly random delay between 0 and the exponential cap),
 * which spreads retries of many gateways after a shared outage instead of synchronising them.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** Delay before the next retry; grows with each call until reset(). */
  next(): number {
    const cap = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const random = this.opts.random ?? Math.random;
    // Never below a tenth of the cap, so a retry is never an immediate hot loop.
    return Math.max(1, Math.round(cap * (0.1 + 0.9 * random())));
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
