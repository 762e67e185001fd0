import type { ShardMap } from './shard-map.js';
import { SlidingWindow } from '../../core/sliding-window.js';
import { TokenBucket } from '../../core/token-bucket.js';

export interface PacingOptions {
  /** The shard's write limits: AWS's are 1,000 records/s and 1 MiB/s (Kinesis "Quotas and limits"). */
  recordsPerSecond: number;
  bytesPerSecond: number;
  /** Share of the shard limits tidegate aims at (other producers may write to the same stream). */
  share: number;
  now?: () => number;
}

/** Used while the shard map is unknown: everything is paced as if the stream had one shard (conservative). */
export const UNKNOWN_SHARD = 'unknown';

// Throttled: the shard's rate is cut to this fraction (at most once per second, as AWS counts per second)...
const CUT = 0.7;
const MIN_FACTOR = 0.05;
// ...and grows back by this much for every 200 ms since the cut's second, counted on accepted calls, while
// no new throttle comes: by time, not per call, so a shard sent fewer, fuller calls recovers as fast (2 s
// from 0.7 to 1 after the cut, whatever the calls' rate). One accepted call makes up for at most a second
// of raises: after a quiet spell there is no evidence the shard takes more.
const RAISE = 0.05;
const RAISE_EVERY_MS = 200;
const MAX_RAISES_PER_CALL = 5;
const CUT_EVERY_MS = 1000;
// A saturated shard is sent its allowance in calls of at least this share of its limit: half a second's worth.
const MIN_BURST_OF_LIMIT = 0.5;
// One call at a time while calls return within this fraction of a chunk's time (see quickCallMs).
const QUICK_CALL_PER_CHUNK = 2;

/**
 * The burst a shard's bucket may hold at a paced `rate` with `share` of the limit (`rate / share`): half the
 * limit, or what the limit leaves above the rate when that is more. This is the most one call takes from a
 * shard at once, so what lands in any second is at most the limit plus this for each call in flight at its
 * start.
 *
 * Why half the limit (issue "Pi-class efficiency"): every call costs the same signing, HTTP round trip and
 * cursor commit however few records it carries. A burst of only the headroom (limit − rate, 100 records at
 * `share` 0.9) sent a saturated shard 9 calls a second, and those calls were most of a paced drain's CPU;
 * at half the limit it is 1.8. Whether a late call puts a second that AWS counts over the limit is decided
 * by the window of 1 / share seconds, not by the burst (windowMs). The burst decides how much can be over
 * when calls are later than the window allows for: up to a burst for each call in flight (two with the
 * default concurrency), refused as throttled and sent again, and the shard's rate is cut (onThrottled).
 */
export function pacedBurst(rate: number, share: number): number {
  return rate * Math.max(1 / share - 1, MIN_BURST_OF_LIMIT / share);
}

/**
 * The span of the window that caps a shard's takes at its limit: 1 / share seconds (1,111 ms at 0.9); the
 * limit over this span is the paced rate. AWS counts a call when it arrives, not when tidegate took its
 * allowance, and the time between the two (planning, signing, the network, a stalled event loop) is not
 * the same for every call. The calls AWS counts in one of its seconds were taken within that second widened
 * by how much those times differ, so while they differ by less than 1 / share − 1 seconds (111 ms at 0.9)
 * between calls a second or so apart, no second AWS counts holds more than the limit, whatever the calls'
 * sizes. A one-second window gave that only to calls of one size, spaced by the bucket.
 */
export function windowMs(share: number): number {
  return 1000 / share;
}

interface ShardState {
  records: TokenBucket;
  bytes: TokenBucket;
  /** The takes of the last windowMs(share), capped at the shard limit (scaled by `factor`): the bucket alone would let its burst over it. */
  recordWindow: SlidingWindow;
  byteWindow: SlidingWindow;
  /** Fraction of the configured rate in use: lowered by throttling replies, raised back by successes. */
  factor: number;
  lastCut: number;
  /** When the next raise of `factor` is due (a second after a cut, then every RAISE_EVERY_MS). */
  nextRaiseAt: number;
}

/**
 * Paces writes per shard the way the KPL does: token buckets of records/s and bytes/s for each open shard,
 * so a backlog drains at the shard limits instead of in a throttling storm. Throttling replies (they name the
 * shard) cut that shard's rate multiplicatively; accepted calls raise it back additively (AIMD), which also
 * adapts to other producers sharing the stream.
 */
export class ShardPacer {
  private map: ShardMap | null = null;
  private readonly shards = new Map<string, ShardState>();
  private readonly now: () => number;

  constructor(private readonly opts: PacingOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  setMap(map: ShardMap): void {
    this.map = map;
    // Shards that closed (reshard) are forgotten; new ones start with full buckets.
    for (const id of [...this.shards.keys()]) if (id !== UNKNOWN_SHARD && !map.has(id)) this.shards.delete(id);
    this.shards.delete(UNKNOWN_SHARD);
  }

  /** The shard a key writes to; UNKNOWN_SHARD while the map is unknown or has a hole for it. */
  shardOf(partitionKey: string): string {
    return this.map?.shardOf(partitionKey) ?? UNKNOWN_SHARD;
  }

  /** How many shards shardOf can name: the map's open shards, and UNKNOWN_SHARD while it has a hole or is unknown. */
  possibleShards(): number {
    if (!this.map) return 1;
    return this.map.complete ? this.map.size : this.map.size + 1;
  }

  /** Takes one record of `bytes` from the shard's allowance, or says it must wait. */
  tryTake(shardId: string, bytes: number): boolean {
    const s = this.state(shardId);
    // One clock read for all four checks: this runs for every record a paced call plans.
    const t = this.now();
    if (!s.recordWindow.fits(1, t) || !s.byteWindow.fits(bytes, t)) return false;
    if (!s.records.tryTake(1)) return false;
    if (!s.bytes.tryTake(bytes)) {
      s.records.giveBack(1);
      return false;
    }
    s.recordWindow.add(1, t);
    s.byteWindow.add(bytes, t);
    return true;
  }

  /**
   * Records worth waiting for before writing to a saturated shard: its whole burst, the most one call may
   * take from it at once within the limits (500 records, 556 ms of its rate at share 0.9). Not a record at a
   * time as tokens trickle in: every call costs the same signing, HTTP round trip and cursor commit however
   * few records it carries, so a drain's CPU goes with the number of calls (profiled: a paced 1-shard drain
   * sent 433 calls of 46 records when chunks were 50 ms). The KPL's RecordMaxBufferedTime plays the same part.
   */
  chunkRecords(shardId: string): number {
    return Math.max(1, Math.floor(pacedBurst(this.state(shardId).records.perSecond, this.opts.share)));
  }

  /**
   * How quick calls must be for the stream's splits to be planned as one call (Sink.quickCallMs): half the
   * time a saturated shard takes to gather a chunk (278 ms at share 0.9, whatever the rate). A shard that
   * opens while such a call is out waits about that long at most, and then boards the next call with the
   * shards that opened with it. One call at a time that took longer than a chunk's time would leave a
   * saturated shard's allowance unused while it is out.
   */
  quickCallMs(): number {
    return (1000 * pacedBurst(1, this.opts.share)) / QUICK_CALL_PER_CHUNK;
  }

  /** Milliseconds until the shard's records bucket holds `n` tokens (0: now). */
  msUntilRecords(shardId: string, n: number): number {
    const s = this.state(shardId);
    return Math.max(s.records.msUntil(n), s.recordWindow.msUntil(n));
  }

  /** Milliseconds until the shard's bytes bucket and window hold `n` (0: now); n at most the burst. */
  msUntilBytes(shardId: string, n: number): number {
    const s = this.state(shardId);
    return Math.max(s.bytes.msUntil(n), s.byteWindow.msUntil(n));
  }

  /** Milliseconds until the shard can take one record of `bytes`. */
  msUntil(shardId: string, bytes: number): number {
    const s = this.state(shardId);
    return Math.max(s.records.msUntil(1), s.bytes.msUntil(bytes), s.recordWindow.msUntil(1), s.byteWindow.msUntil(bytes));
  }

  /** The shard refused entries with ProvisionedThroughputExceededException. */
  onThrottled(shardId: string): void {
    const s = this.state(shardId);
    const t = this.now();
    s.records.drain();
    s.bytes.drain();
    if (t - s.lastCut < CUT_EVERY_MS) return;
    s.lastCut = t;
    s.nextRaiseAt = t + CUT_EVERY_MS;
    this.setFactor(s, Math.max(MIN_FACTOR, s.factor * CUT));
  }

  /** The shard accepted entries of a call without throttling any. */
  onAccepted(shardId: string): void {
    const s = this.state(shardId);
    if (s.factor >= 1) return;
    const t = this.now();
    if (t < s.nextRaiseAt) return;
    const due = 1 + Math.floor((t - s.nextRaiseAt) / RAISE_EVERY_MS);
    const raises = Math.min(due, MAX_RAISES_PER_CALL);
    // The raises not made up for are forgotten, not carried to the next call.
    s.nextRaiseAt = due > raises ? t + RAISE_EVERY_MS : s.nextRaiseAt + raises * RAISE_EVERY_MS;
    this.setFactor(s, Math.min(1, s.factor + raises * RAISE));
  }

  /** The burst a shard's buckets may hold now: the most one call takes from it at once (oversize records aside). */
  burst(shardId: string): { records: number; bytes: number } {
    const s = this.state(shardId);
    return { records: pacedBurst(s.records.perSecond, this.opts.share), bytes: pacedBurst(s.bytes.perSecond, this.opts.share) };
  }

  /** Per shard: the rates in use now, for metrics and the dashboard. */
  snapshot(): Array<{ shardId: string; factor: number; recordsPerSecond: number; bytesPerSecond: number }> {
    return [...this.shards.entries()].map(([shardId, s]) => ({ shardId, factor: s.factor, recordsPerSecond: s.records.perSecond, bytesPerSecond: s.bytes.perSecond }));
  }

  private setFactor(s: ShardState, factor: number): void {
    s.factor = factor;
    s.records.setRate(this.opts.recordsPerSecond * this.opts.share * factor);
    s.bytes.setRate(this.opts.bytesPerSecond * this.opts.share * factor);
    s.recordWindow.setLimit(this.opts.recordsPerSecond * factor);
    s.byteWindow.setLimit(this.opts.bytesPerSecond * factor);
  }

  private state(shardId: string): ShardState {
    let s = this.shards.get(shardId);
    if (!s) {
      // Bucket and window together: a burst of at most pacedBurst at once, the paced rate in the long run
      // (share 1: the limit itself), and never more than the limit in any window of 1 / share seconds, so
      // none in a second as AWS counts it while take-to-arrival times differ by less than 1 / share − 1 s
      // (windowMs).
      const burst = (rate: number) => pacedBurst(rate, this.opts.share);
      s = {
        records: new TokenBucket(this.opts.recordsPerSecond * this.opts.share, this.now, burst),
        bytes: new TokenBucket(this.opts.bytesPerSecond * this.opts.share, this.now, burst),
        recordWindow: new SlidingWindow(this.opts.recordsPerSecond, windowMs(this.opts.share), this.now),
        byteWindow: new SlidingWindow(this.opts.bytesPerSecond, windowMs(this.opts.share), this.now),
        factor: 1,
        lastCut: -Infinity,
        nextRaiseAt: -Infinity,
      };
      this.shards.set(shardId, s);
    }
    return s;
  }
}

/** The shard a ProvisionedThroughputExceededException message names ("Rate exceeded for shard shardId-000000000001 in stream ..."). */
export function shardNamedIn(message: string): string | null {
  return /\b(shardId-\d+)\b/.exec(message)?.[1] ?? null;
}
