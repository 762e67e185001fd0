import { describe, it, expect } from 'vitest';
import { LatencyHistogram, percentile } from '../../../device-sim/stats.js';
import { mulberry32 } from '../../../device-sim/model/random.js';

describe('percentile (nearest rank)', () => {
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('picks the smallest value covering p percent', () => {
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 95)).toBe(10);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 91)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
  });

  it('handles one value and no values', () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('works on 1..100 as textbook examples expect', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
  });

  it('rejects percentiles outside 0..100', () => {
    expect(() => percentile(values, 101)).toThrow(RangeError);
    expect(() => percentile(values, -1)).toThrow(RangeError);
  });
});

describe('LatencyHistogram', () => {
  it('reports zeros when nothing was recorded', () => {
    const h = new LatencyHistogram();
    expect(h.count).toBe(0);
    expect(h.summary()).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it('is exact for a single repeated value', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) h.record(2.5);
    expect(h.summary()).toEqual({ p50: 2.5, p95: 2.5, p99: 2.5, max: 2.5 });
  });

  it('stays within 1% of the exact nearest-rank percentile on a skewed distribution', () => {
    const rand = mulberry32(123);
    const samples: number[] = [];
    const h = new LatencyHistogram();
    for (let i = 0; i < 50_000; i++) {
      // Long-tailed like real ack latencies: mostly ~1 ms, occasionally hundreds.
      const v = -Math.log(1 - rand()) * (rand() < 0.02 ? 200 : 1);
      samples.push(v);
      h.record(v);
    }
    samples.sort((a, b) => a - b);
    for (const p of [50, 90, 95, 99, 99.9]) {
      const exact = percentile(samples, p);
      const approx = h.percentile(p);
      expect(Math.abs(approx - exact) / exact).toBeLessThanOrEqual(0.0101);
    }
    expect(h.summary().max).toBeCloseTo(samples[samples.length - 1] as number, 3);
    expect(h.count).toBe(50_000);
  });

  it('ignores negative and NaN samples', () => {
    const h = new LatencyHistogram();
    h.record(-1);
    h.record(Number.NaN);
    h.record(3);
    expect(h.count).toBe(1);
    expect(h.percentile(50)).toBe(3);
  });
});
