import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/core/token-bucket.js';

/** The per-client publish rate (mqtt.limits.publishRate): a token bucket whose reservations may go into debt. */
function pacer(perSecond: number, burst: number): { take(now: number): number } {
  let clock = 0;
  const bucket = new TokenBucket(perSecond, () => clock, () => burst);
  return {
    take(now) {
      clock = now;
      return bucket.reserve(1);
    },
  };
}

describe('publish pacer (token bucket)', () => {
  it('lets a burst through, then spaces publishes at the rate, queueing concurrent ones in turn', () => {
    const p = pacer(10, 3);
    expect([p.take(0), p.take(0), p.take(0)]).toEqual([0, 0, 0]);
    // Three more at the same instant: 100, 200, 300 ms (10 per second).
    expect([p.take(0), p.take(0), p.take(0)]).toEqual([100, 200, 300]);
    // After 1 s, the debt of 3 is paid and 7 tokens accrued, capped at the burst of 3.
    expect(p.take(1_000)).toBe(0);
    expect(p.take(1_000)).toBe(0);
  });

  it('never accrues more than the burst while idle', () => {
    const p = pacer(1, 2);
    expect([p.take(60_000), p.take(60_000), p.take(60_000)]).toEqual([0, 0, 1000]);
  });
});
