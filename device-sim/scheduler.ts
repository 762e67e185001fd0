/**
 * Fleet-wide pacing as a token bucket driven by one ~10 ms timer.
 *
 * One timer per device would not scale to 10k+ devices or 30k readings/s, so a
 * single ticker asks "how many readings are due by now?" and the simulator hands
 * them out round-robin across devices. Because devices take turns, every device
 * gets totalRate/devices readings per second without its own clock.
 *
 * `due(now)` is computed from elapsed time (not accumulated per tick), so timer
 * jitter or a late tick never loses or duplicates readings: a late tick simply
 * finds more tokens. The scheduler is a pure function of the `now` values it is
 * given, which keeps it testable with a fake clock.
 */

export type StopReason = 'count' | 'duration' | 'deadline' | 'aborted';

export interface SchedulerOptions {
  /** Readings per second for the whole fleet. */
  ratePerSec: number;
  startMs: number;
  /** Requested duration; Infinity when the run is bounded by count only. */
  durationMs: number;
  /** Requested readings; Infinity when the run is bounded by duration only. */
  count: number;
  /** Hard time limit (>= durationMs is not required; the earlier one wins). */
  deadlineMs?: number;
}

// Guards floor() against 2.9999999996 when rate * elapsed is mathematically 3.
const EPSILON = 1e-9;

export class TokenScheduler {
  private issuedCount = 0;
  private readonly endMs: number;

  constructor(private readonly opts: SchedulerOptions) {
    if (!(opts.ratePerSec > 0)) throw new RangeError('ratePerSec must be > 0');
    const limit = Math.min(opts.durationMs, opts.deadlineMs ?? Infinity);
    if (!Number.isFinite(limit) && !Number.isFinite(opts.count)) {
      throw new RangeError('a scheduler needs a finite duration, deadline or count');
    }
    this.endMs = opts.startMs + limit;
  }

  /** Readings handed out so far. */
  get issued(): number {
    return this.issuedCount;
  }

  /** Total readings due by `nowMs` since start, capped by the end time and count. */
  due(nowMs: number): number {
    const elapsed = Math.max(0, Math.min(nowMs, this.endMs) - this.opts.startMs);
    return Math.min(this.opts.count, Math.floor((elapsed * this.opts.ratePerSec) / 1000 + EPSILON));
  }

  /** Readings due now but not yet taken (the bucket's tokens). */
  available(nowMs: number): number {
    return Math.max(0, this.due(nowMs) - this.issuedCount);
  }

  /** Marks n readings as emitted. */
  take(n: number): void {
    this.issuedCount += n;
  }

  /**
   * Why the run is over at `nowMs`, or undefined while it continues. Callers
   * should emit what is available at the final tick before checking, so the
   * last readings due exactly at the end are not lost.
   */
  stopReason(nowMs: number): StopReason | undefined {
    if (this.issuedCount >= this.opts.count) return 'count';
    if (nowMs >= this.endMs) {
      return this.opts.durationMs <= (this.opts.deadlineMs ?? Infinity) ? 'duration' : 'deadline';
    }
    return undefined;
  }

  /** Readings the run will emit if nothing stalls. */
  planned(): number {
    return this.due(this.endMs);
  }
}
