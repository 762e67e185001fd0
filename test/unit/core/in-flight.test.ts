import { describe, expect, it } from 'vitest';
import { InFlight } from '../../../src/core/in-flight.js';

describe('InFlight', () => {
  it('is idle at once when nothing was begun', async () => {
    const inflight = new InFlight();
    await expect(inflight.idle()).resolves.toBeUndefined();
    expect(inflight.size).toBe(0);
  });

  it('wakes every waiter only when the last operation ends', async () => {
    const inflight = new InFlight();
    inflight.begin();
    inflight.begin();
    const woken: string[] = [];
    const a = inflight.idle().then(() => woken.push('a'));
    const b = inflight.idle().then(() => woken.push('b'));
    inflight.end();
    await Promise.resolve();
    await Promise.resolve();
    expect(woken).toEqual([]);
    expect(inflight.size).toBe(1);
    inflight.end();
    await Promise.all([a, b]);
    expect(woken).toEqual(['a', 'b']);
    expect(inflight.size).toBe(0);
  });

  it('refuses an end without a begin instead of counting below zero', () => {
    const inflight = new InFlight();
    expect(() => inflight.end()).toThrow(/without a matching begin/);
    inflight.begin();
    inflight.end();
    expect(() => inflight.end()).toThrow(/without a matching begin/);
  });
});
