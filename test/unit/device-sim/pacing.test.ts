import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { BurstSchedule, type Burst } from '../../../device-sim/faults/bursts.js';
import { stormTimes, stormVictims } from '../../../device-sim/faults/storms.js';
import { DeviceLedger, RangeSet, rangeCount } from '../../../device-sim/ledger.js';
import { DueHeap } from '../../../device-sim/pacer.js';

const burst = (b: Partial<Burst>): Burst => ({ atMs: 0, durationMs: 1000, factor: 10, everyMs: undefined, fleets: undefined, ...b });

/** Send times of one device from 0 until `end`, the way the engine schedules them. */
function sendTimes(s: BurstSchedule, intervalMs: number, end: number, fleet = 0): number[] {
  const out: number[] = [];
  for (let t = 0; t < end && out.length < 1_000_000; t = s.advance(t, intervalMs, fleet)) out.push(t);
  return out;
}

describe('bursts', () => {
  it('without bursts, a device sends every interval', () => {
    expect(sendTimes(new BurstSchedule([]), 100, 1000)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('multiplies the rate exactly inside the window, entering and leaving at its edges', () => {
    const s = new BurstSchedule([burst({ atMs: 1000, durationMs: 1000, factor: 10 })]);
    const times = sendTimes(s, 100, 3000);
    const inWindow = (a: number, b: number): number => times.filter((t) => t >= a && t < b).length;
    expect(inWindow(0, 1000)).toBe(10);
    expect(inWindow(1000, 2000)).toBe(100);
    expect(inWindow(2000, 3000)).toBe(10);
  });

  it('repeats with `every`, applies only to its fleets, and a factor below 1 is a lull', () => {
    const s = new BurstSchedule([burst({ atMs: 0, durationMs: 500, everyMs: 1000, factor: 4, fleets: new Set([1]) }), burst({ atMs: 5000, durationMs: 5000, factor: 0.5 })]);
    expect(sendTimes(s, 100, 5000, 0)).toHaveLength(50); // fleet 0: no burst
    const f1 = sendTimes(s, 100, 5000, 1);
    expect(f1).toHaveLength(5 * (20 + 5)); // each second: 500 ms at 4x, 500 ms at 1x
    expect(sendTimes(s, 100, 10_000, 0).filter((t) => t >= 5000)).toHaveLength(25);
  });

  it('conserves work: the count in any window is the integral of the rate (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0.2, max: 20, noNaN: true }), (at, dur, factor) => {
        const s = new BurstSchedule([burst({ atMs: at, durationMs: dur, factor })]);
        const n = sendTimes(s, 50, 12_000).length;
        const expected = (12_000 - dur + dur * factor) / 50;
        expect(Math.abs(n - expected)).toBeLessThanOrEqual(2);
      }),
      { numRuns: 100 },
    );
  });
});

describe('disconnect storms', () => {
  it('plans storm times before the end of the run', () => {
    expect(stormTimes([{ atMs: 1000, everyMs: 2000, times: Number.MAX_SAFE_INTEGER, fraction: 0.5 }], 8000)).toEqual([1000, 3000, 5000, 7000]);
    expect(stormTimes([{ atMs: 1000, everyMs: 2000, times: 2, fraction: 0.5 }, { atMs: 0, everyMs: undefined, times: 1, fraction: 1 }], 8000)).toEqual([0, 1000, 3000]);
  });

  it('picks a deterministic share of distinct connections', () => {
    const v = stormVictims(42, 0, 100, 0.4);
    expect(v).toHaveLength(40);
    expect(new Set(v).size).toBe(40);
    expect(v.every((c) => c >= 0 && c < 100)).toBe(true);
    expect(stormVictims(42, 0, 100, 0.4)).toEqual(v);
    expect(stormVictims(42, 1, 100, 0.4)).not.toEqual(v);
    expect(stormVictims(1, 0, 3, 0.01)).toHaveLength(1);
  });
});

describe('DueHeap', () => {
  it('pops devices in due order, ties by index (round-robin)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 200 }), (keys) => {
        const heap = new DueHeap(keys.length, Float64Array.from(keys));
        keys.forEach((_, i) => heap.push(i));
        const order: number[] = [];
        while (heap.size > 0) order.push(heap.pop());
        const expected = keys.map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
        expect(order).toEqual(expected);
      }),
    );
  });
});

describe('ledger ranges', () => {
  it('RangeSet matches a plain set for any insertion order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }), (values) => {
        const rs = new RangeSet();
        for (const v of values) rs.add(v);
        const model = [...new Set(values)].sort((a, b) => a - b);
        expect(rs.size).toBe(model.length);
        const flat = rs.toArray().flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        expect(flat).toEqual(model);
        // Ranges are maximal: never adjacent or overlapping.
        const ranges = rs.toArray();
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + 1);
        for (let v = 0; v <= 201; v++) expect(rs.has(v)).toBe(model.includes(v));
      }),
    );
  });

  it('is compact: acks in order make one range, a gap makes two', () => {
    const rs = new RangeSet();
    for (let v = 1; v <= 900; v++) if (v !== 501) rs.add(v);
    expect(rs.toArray()).toEqual([[1, 500], [502, 900]]);
    expect(rangeCount(rs.toArray())).toBe(899);
  });

  it('keeps sent and acknowledged per boot; a duplicate ack is counted once', () => {
    const l = new DeviceLedger('th-001', 'aaaa0001');
    const b0 = l.current;
    l.recordSent(b0, 1);
    l.recordSent(b0, 2);
    l.recordAcked(b0, 2);
    l.recordAcked(b0, 2);
    const b1 = l.startBoot('aaaa0002');
    l.recordSent(b1, 1);
    l.recordAcked(b1, 1);
    l.recordAcked(b0, 1); // a late ack of the previous boot
    expect(l.sent).toBe(3);
    expect(l.acked).toBe(3);
    expect(l.boots.map((b) => [b.boot, b.sent, b.acked.toArray()])).toEqual([
      ['aaaa0001', 2, [[1, 2]]],
      ['aaaa0002', 1, [[1, 1]]],
    ]);
  });
});
