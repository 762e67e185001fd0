import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';

const draws = (b: Backoff, n: number): number[] => Array.from({ length: n }, () => b.next());

describe('Backoff', () => {
  it('doubles the cap from baseMs with each call (random at its maximum)', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1_000_000, random: () => 1 });
    expect(draws(b, 6)).toEqual([100, 200, 400, 800, 1_600, 3_200]);
    expect(b.attempts).toBe(6);
  });

  it('never exceeds maxMs', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 1 });
    expect(draws(b, 7)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('uses a tenth of the cap as the lower jitter bound (random 0)', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1_000, random: () => 0 });
    expect(draws(b, 6)).toEqual([10, 20, 40, 80, 100, 100]);
  });

  it('maps random linearly between a tenth of the cap and the cap', () => {
    const b = new Backoff({ baseMs: 1_000, maxMs: 1_000, random: () => 0.5 });
    expect(b.next()).toBe(550);
  });

  it('stays within [cap / 10, cap] for every injected random value', () => {
    const values = [0, 1e-9, 0.1, 0.25, 0.5, 0.75, 0.999999, 0.9999999999];
    let k = 0;
    const b = new Backoff({ baseMs: 50, maxMs: 3_000, random: () => values[k++ % values.length]! });
    for (let attempt = 0; attempt < 40; attempt++) {
      const cap = Math.min(3_000, 50 * 2 ** attempt);
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(Math.round(cap / 10));
      expect(d).toBeLessThanOrEqual(cap);
    }
  });

  it('stays finite after very many attempts (the exponent is clamped)', () => {
    const b = new Backoff({ baseMs: 1, maxMs: Number.MAX_SAFE_INTEGER, random: () => 1 });
    const all = draws(b, 200);
    expect(all[30]).toBe(2 ** 30);
    expect(all[199]).toBe(2 ** 30);
    expect(all.every(Number.isFinite)).toBe(true);
  });

  it('reset() starts again from baseMs', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 10_000, random: () => 1 });
    draws(b, 5);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(draws(b, 2)).toEqual([100, 200]);
  });

  it('returns whole milliseconds', () => {
    const b = new Backoff({ baseMs: 3, maxMs: 1_000, random: () => 0.123456 });
    for (const d of draws(b, 10)) expect(Number.isInteger(d)).toBe(true);
  });

  it('uses Math.random when no random is injected', () => {
    const b = new Backoff({ baseMs: 1_000, maxMs: 1_000 });
    for (const d of draws(b, 50)) {
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(1_000);
    }
  });
});
