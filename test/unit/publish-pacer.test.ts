import { describe, expect, it } from 'vitest';
import { PublishPacer } from '../../src/sources/mqtt-broker/publish-pacer.js';

describe('publish pacer (token bucket)', () => {
  it('lets a burst through, then spaces publishes at the rate, queueing concurrent ones in turn', () => {
    const pacer = new PublishPacer(10, 3, 0);
    expect([pacer.take(0), pacer.take(0), pacer.take(0)]).toEqual([0, 0, 0]);
    // Three more at the same instant: 100, 200, 300 ms (10 per second).
    expect([pacer.take(0), pacer.take(0), pacer.take(0)]).toEqual([100, 200, 300]);
    // After 1 s, the debt of 3 is paid and 7 tokens accrued, capped at the burst of 3.
    expect(pacer.take(1_000)).toBe(0);
    expect(pacer.take(1_000)).toBe(0);
  });

  it('never accrues more than the burst while idle', () => {
    const pacer = new PublishPacer(1, 2, 0);
    expect([pacer.take(60_000), pacer.take(60_000), pacer.take(60_000)]).toEqual([0, 0, 1000]);
  });
});
