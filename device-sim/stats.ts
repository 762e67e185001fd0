/**
 * Percentiles for PUBACK latency.
 *
 * Long runs can produce hundreds of millions of acks, so latencies go into a
 * fixed-size log-bucketed histogram (about 1% relative precision, ~19 KB) rather
 * than an array that grows with the run. `percentile` is the exact nearest-rank
 * definition the histogram approximates; tests compare the two.
 */

export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentile of ascending-sorted values: the smallest value such
 * that at least p% of all values are <= it. p=0 gives the minimum.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

const MIN_MS = 0.001; // 1 µs: below timer resolution, everything smaller shares bucket 0
const MAX_MS = 10_000_000; // ~2.8 h: anything later is a lost ack, not a latency
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 1;

export class LatencyHistogram {
  // Float64 counts: exact integers up to 2^53, no overflow on multi-day runs.
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private minSeen = Infinity;
  private maxSeen = -Infinity;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative (clock anomaly): ignore rather than corrupt
    const idx = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[idx] = (this.counts[idx] as number) + 1;
    this.n += 1;
    if (ms < this.minSeen) this.minSeen = ms;
    if (ms > this.maxSeen) this.maxSeen = ms;
  }

  /**
   * Nearest-rank percentile, reported as the bucket's upper bound clamped to the
   * observed min/max, so it is never below the exact value by more than ~1%.
   */
  percentile(p: number): number {
    if (this.n === 0) return NaN;
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) {
        const upper = MIN_MS * GROWTH ** i;
        return Math.min(this.maxSeen, Math.max(this.minSeen, upper));
      }
    }
    return this.maxSeen;
  }

  summary(): LatencyPercentiles {
    if (this.n === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
    const r = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      p50: r(this.percentile(50)),
      p95: r(this.percentile(95)),
      p99: r(this.percentile(99)),
      max: r(this.maxSeen),
    };
  }
}
