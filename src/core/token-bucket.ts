/**
 * A token bucket refilling at `rate` per second and holding at most `capacity(rate)` (one second of its rate
 * unless told otherwise). A request larger than the whole bucket is let through when the bucket is full and
 * leaves it in debt, so one record bigger than a shard's allowance still goes (alone) instead of waiting forever.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private size: number;

  constructor(
    private rate: number,
    private readonly now: () => number = () => performance.now(),
    private readonly capacity: (rate: number) => number = (r) => r,
  ) {
    this.size = capacity(rate);
    this.tokens = this.size;
    this.last = now();
  }

  get perSecond(): number {
    return this.rate;
  }

  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
    this.size = this.capacity(rate);
    this.tokens = Math.min(this.tokens, this.size);
  }

  tryTake(n: number): boolean {
    this.refill();
    // "Full" allows for floating-point refill arithmetic.
    if (this.tokens >= n || (this.tokens >= this.size * (1 - 1e-9) && n > this.size)) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /**
   * Takes `n` tokens whatever the balance and returns how long the caller must wait for them (0: at once).
   * Concurrent callers run into debt and each waits its turn.
   */
  reserve(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Gives back tokens taken for something that was not sent after all. */
  giveBack(n: number): void {
    this.tokens = Math.min(this.size, this.tokens + n);
  }

  /** Empties the bucket (the server said we went too fast). */
  drain(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }

  /** Milliseconds until `n` tokens (or a full bucket, for oversize requests) are available. */
  msUntil(n: number): number {
    this.refill();
    const need = Math.min(n, this.size) - this.tokens;
    return need <= 0 ? 0 : (need / this.rate) * 1000;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = (t - this.last) / 1000;
    this.last = t;
    if (elapsed > 0) this.tokens = Math.min(this.size, this.tokens + elapsed * this.rate);
  }
}
