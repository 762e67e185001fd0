/**
 * What was taken in the last `spanMs`, to the millisecond: a cap on any sliding window of that span, which a
 * token bucket alone cannot give (it lets its capacity plus a span of refill through in a span). A request
 * larger than the whole cap goes when the window is empty, so one oversize record still goes (alone).
 */
export class SlidingWindow {
  private readonly times: number[] = [];
  private readonly amounts: number[] = [];
  private head = 0;
  private sum = 0;

  constructor(
    private cap: number,
    private readonly spanMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get limit(): number {
    return this.cap;
  }

  setLimit(cap: number): void {
    this.cap = cap;
  }

  /**
   * Whether `n` more would keep the last span within the cap. `t` lets a caller that checks several windows
   * for one record read the clock once (this runs per record when paced).
   */
  fits(n: number, t = this.now()): boolean {
    this.prune(t);
    return this.admits(this.sum, n);
  }

  /** Counts `n` taken at `t` (now by default). */
  add(n: number, t = this.now()): void {
    this.prune(t);
    const last = this.times.length - 1;
    // Takes at the same clock reading share one slot; otherwise a slot each, so a window holds at most a
    // slot per record taken in its span (the records cap bounds both of a shard's windows).
    if (last >= this.head && this.times[last] === t) this.amounts[last]! += n;
    else {
      this.times.push(t);
      this.amounts.push(n);
    }
    this.sum += n;
  }

  /** Milliseconds until `n` more fit (0: now). */
  msUntil(n: number): number {
    const t = this.now();
    this.prune(t);
    let sum = this.sum;
    for (let i = this.head; i < this.times.length; i++) {
      if (this.admits(sum, n)) return i === this.head ? 0 : Math.max(0, this.times[i - 1]! + this.spanMs - t);
      sum -= this.amounts[i]!;
    }
    return this.times.length > this.head ? Math.max(0, this.times[this.times.length - 1]! + this.spanMs - t) : 0;
  }

  private admits(sum: number, n: number): boolean {
    // Allows for floating-point sums of byte counts.
    return sum + n <= this.cap * (1 + 1e-9) || (sum === 0 && n > this.cap);
  }

  private prune(t: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= t - this.spanMs) {
      this.sum -= this.amounts[this.head]!;
      this.head += 1;
    }
    if (this.head === this.times.length) {
      this.times.length = 0;
      this.amounts.length = 0;
      this.head = 0;
      this.sum = 0;
    } else if (this.head > 1024) {
      this.times.splice(0, this.head);
      this.amounts.splice(0, this.head);
      this.head = 0;
    }
  }
}
