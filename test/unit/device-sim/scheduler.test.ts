import { describe, it, expect } from 'vitest';
import { TokenScheduler } from '../../../device-sim/scheduler.js';

/**
 * Drives a scheduler with a fake clock the way the simulator does: at each tick
 * take everything available (up to `capacity`), then check whether to stop.
 */
function drive(
  s: TokenScheduler,
  opts: { tickMs: number; jitterMs?: (i: number) => number; capacity?: (i: number) => number; maxTicks?: number },
): { perTick: number[]; stopAt: number; reason: string } {
  const perTick: number[] = [];
  let now = 0;
  for (let i = 0; i < (opts.maxTicks ?? 1_000_000); i++) {
    const n = Math.min(s.available(now), opts.capacity?.(i) ?? Infinity);
    s.take(n);
    perTick.push(n);
    const reason = s.stopReason(now);
    if (reason) return { perTick, stopAt: now, reason };
    now += opts.tickMs + (opts.jitterMs?.(i) ?? 0);
  }
  throw new Error('scheduler never stopped');
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('TokenScheduler', () => {
  it('emits rate x duration readings, spread evenly over 10 ms ticks', () => {
    const s = new TokenScheduler({ ratePerSec: 500, startMs: 0, durationMs: 60_000, count: Infinity });
    const { perTick, stopAt, reason } = drive(s, { tickMs: 10 });
    expect(sum(perTick)).toBe(30_000);
    expect(s.issued).toBe(30_000);
    expect(reason).toBe('duration');
    expect(stopAt).toBe(60_000);
    expect(Math.max(...perTick)).toBe(5);
    expect(s.planned()).toBe(30_000);
  });

  it('handles high fleet rates from a single timer (30,000/s => 300 per tick)', () => {
    const s = new TokenScheduler({ ratePerSec: 30_000, startMs: 0, durationMs: 2_000, count: Infinity });
    const { perTick } = drive(s, { tickMs: 10 });
    expect(sum(perTick)).toBe(60_000);
    expect(perTick.slice(1).every((n) => n === 300)).toBe(true);
  });

  it('handles fractional per-device rates (50 devices at one reading a minute)', () => {
    const s = new TokenScheduler({ ratePerSec: 50 / 60, startMs: 0, durationMs: 120_000, count: Infinity });
    const { perTick } = drive(s, { tickMs: 10 });
    expect(sum(perTick)).toBe(100);
    expect(Math.max(...perTick)).toBe(1);
  });

  it('does not lose or duplicate readings when ticks are late or irregular', () => {
    const s = new TokenScheduler({ ratePerSec: 1_000, startMs: 0, durationMs: 10_000, count: Infinity });
    const { perTick } = drive(s, { tickMs: 10, jitterMs: (i) => (i % 7 === 0 ? 250 : i % 3) });
    expect(sum(perTick)).toBe(10_000);
  });

  it('stops at count before the duration is over', () => {
    const s = new TokenScheduler({ ratePerSec: 1_000, startMs: 0, durationMs: 60_000, count: 2_000 });
    const { perTick, stopAt, reason } = drive(s, { tickMs: 10 });
    expect(sum(perTick)).toBe(2_000);
    expect(reason).toBe('count');
    expect(stopAt).toBe(2_000);
  });

  it('keeps due readings as tokens while capacity is exhausted, then catches up', () => {
    const s = new TokenScheduler({ ratePerSec: 1_000, startMs: 0, durationMs: Infinity, count: 5_000, deadlineMs: 60_000 });
    // Connections stall for the first second, then accept up to 50 per tick.
    const { perTick, reason, stopAt } = drive(s, { tickMs: 10, capacity: (i) => (i <= 100 ? 0 : 50) });
    expect(sum(perTick)).toBe(5_000);
    expect(perTick[101]).toBe(50); // catching up on the backlog
    expect(perTick[200]).toBe(10); // back on the nominal 1,000/s
    expect(reason).toBe('count');
    expect(stopAt).toBe(5_000); // the stall did not extend the run
  });

  it('gives up at the deadline for count-only runs that cannot progress', () => {
    const s = new TokenScheduler({ ratePerSec: 1_000, startMs: 0, durationMs: Infinity, count: 5_000, deadlineMs: 1_000 });
    const { perTick, reason, stopAt } = drive(s, { tickMs: 10, capacity: () => 1 });
    expect(reason).toBe('deadline');
    expect(stopAt).toBe(1_000);
    expect(sum(perTick)).toBe(100);
  });

  it('respects a non-zero start time and never goes negative before it', () => {
    const s = new TokenScheduler({ ratePerSec: 100, startMs: 5_000, durationMs: 1_000, count: Infinity });
    expect(s.available(0)).toBe(0);
    expect(s.available(5_000)).toBe(0);
    expect(s.available(5_500)).toBe(50);
    expect(s.available(99_999)).toBe(100);
  });

  it('refuses an unbounded or rateless configuration', () => {
    expect(() => new TokenScheduler({ ratePerSec: 10, startMs: 0, durationMs: Infinity, count: Infinity })).toThrow(RangeError);
    expect(() => new TokenScheduler({ ratePerSec: 0, startMs: 0, durationMs: 1000, count: Infinity })).toThrow(RangeError);
  });
});
