import { describe, expect, it } from 'vitest';
import { ctxAt, makeWindow, producedOf, reading, summary } from './window-helpers.js';
import type { ProducedRecord } from '../../../src/pipeline/transform.js';

const MIN = 60_000;

/** Feeds [ts, value] pairs for one device, returns the aggregates emitted along the way. */
function feed(t: ReturnType<typeof makeWindow>, ctx: ReturnType<typeof ctxAt>, points: [number, number][], device = 'd1'): ProducedRecord[] {
  return points.flatMap(([ts, x]) => producedOf(t.process(reading(device, ts, { x }, { receivedAt: ctx.clock.now() }), ctx)));
}

describe('tumbling windows', () => {
  it('count out-of-order readings within the lateness in their own window and close on the watermark', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], aggregates: ['count', 'mean', 'first', 'last', 'rate'], allowedLatenessMs: 5_000 });
    const out = feed(t, ctx, [
      [10_000, 1],
      [59_000, 3],
      [61_000, 10], // opens the next window; watermark 56 s: the first is still open
      [58_000, 2], // out of order, within lateness: counts in [0, 60 s)
      [65_000, 11], // watermark 60 s: the first window closes
    ]);
    expect(out.map(summary)).toEqual([{ key: 'd1', start: 0, end: MIN, count: 3, closedBy: 'watermark', values: { x_count: 3, x_mean: 2, x_first: 1, x_last: 3, x_rate: (3 - 1) / 49 } }]);
    expect(out[0]!.reading).toMatchObject({ deviceId: 'd1', topic: 'tidegate/aggregates/window#0', ts: MIN });
  });
});

describe('hopping windows', () => {
  it('put each reading in size/hop windows, aligned to the epoch', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'hopping', sizeMs: 20, hopMs: 10, fields: ['x'], aggregates: ['sum'], allowedLatenessMs: 0 });
    const out = feed(t, ctx, [
      [5, 1],
      [15, 2],
      [25, 4],
      [45, 8],
    ]);
    expect(out.map(summary).map((s) => [s.start, s.end, s.values.x_sum])).toEqual([
      [-10, 10, 1],
      [0, 20, 3],
      [10, 30, 6],
      [20, 40, 4],
    ]);
  });
});

describe('sliding windows', () => {
  it('emit one window per distinct reading time, covering (t − size, t], including readings that arrive later within lateness', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'sliding', sizeMs: 10, fields: ['x'], aggregates: ['sum', 'count'], allowedLatenessMs: 5 });
    const out = feed(t, ctx, [
      [100, 1],
      [105, 2],
      [103, 4], // out of order: joins the windows ending at 105 and its own
      [120, 8], // watermark 115: the windows at 100, 103, 105 close
    ]);
    expect(out.map(summary).map((s) => [s.start, s.end, s.values.x_sum, s.count])).toEqual([
      [91, 101, 1, 1],
      [94, 104, 5, 2],
      [96, 106, 7, 3],
    ]);
    expect(t.flush(ctx).map(summary).map((s) => [s.start, s.end, s.values.x_sum, s.closedBy])).toEqual([[111, 121, 8, 'stop']]);
  });
});

describe('session windows', () => {
  it('merge when an out-of-order reading bridges two sessions, and close gapMs after their last reading', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'session', gapMs: 10, fields: ['x'], aggregates: ['count', 'min', 'max'], allowedLatenessMs: 20 });
    expect(feed(t, ctx, [
      [100, 1],
      [105, 2],
      [120, 3], // 15 after 105: a second session
      [112, 4], // bridges the two: one session 100..120
    ])).toEqual([]);
    const out = feed(t, ctx, [[200, 9]]); // watermark 180 passes 120 + 10
    expect(out.map(summary)).toEqual([{ key: 'd1', start: 100, end: 130, count: 4, closedBy: 'watermark', values: { x_count: 4, x_min: 1, x_max: 4 } }]);
  });

  it('never span more than maxLengthMs: a reading past it starts a new session', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'session', gapMs: 10, maxLengthMs: 25, fields: ['x'], aggregates: ['count'], allowedLatenessMs: 0 });
    const out = feed(t, ctx, [0, 8, 16, 24, 32, 40, 100].map((ts): [number, number] => [ts, 1]));
    expect(out.map(summary).map((s) => [s.start, s.end, s.count])).toEqual([
      [0, 25, 4],
      [32, 50, 2],
    ]);
  });
});

describe('count windows', () => {
  it('close when full, sliding by `slide` readings, in arrival order whatever the timestamps', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'count', count: 3, slide: 2, fields: ['x'], aggregates: ['sum'] });
    const out = feed(t, ctx, [
      [50, 1],
      [10, 2],
      [30, 4],
      [20, 8],
      [40, 16],
    ]);
    expect(out.map((r) => [(r.reading.result as { window: { index: number } }).window.index, r.reading.values.x_sum, summary(r).start, summary(r).end])).toEqual([
      [0, 7, 10, 50],
      [1, 28, 20, 40],
    ]);
  });

  it('emit a partial window when the key goes idle, and start afresh after it', async () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'count', count: 3, fields: ['x'], aggregates: ['sum'], idleTimeoutMs: 1_000 });
    feed(t, ctx, [
      [1, 1],
      [2, 2],
    ]);
    await ctx.clock.advance(1_000);
    expect(t.onTime(ctx.clock.now(), ctx).map((r) => [r.reading.values.x_sum, summary(r).closedBy, summary(r).count])).toEqual([[3, 'idle', 2]]);
    const out = feed(t, ctx, [
      [3, 4],
      [4, 8],
      [5, 16],
    ]);
    expect(out.map((r) => r.reading.values.x_sum)).toEqual([28]);
  });
});

describe('processing-time windows', () => {
  it('use the gateway clock: receivedAt places a reading, onTime closes the window whatever the device ts says', async () => {
    const ctx = ctxAt(1_000_000);
    const t = makeWindow({ kind: 'tumbling', sizeMs: 1_000, time: 'processing', allowedLatenessMs: 0, fields: ['x'], aggregates: ['count'] });
    const at = (ts: number) => producedOf(t.process(reading('d1', ts, { x: 1 }, { receivedAt: ctx.clock.now() }), ctx));
    expect([...at(5), ...at(99_999_999)]).toEqual([]); // device clocks are ignored
    await ctx.clock.advance(999);
    expect(t.onTime(ctx.clock.now(), ctx)).toEqual([]);
    await ctx.clock.advance(1);
    expect(t.onTime(ctx.clock.now(), ctx).map(summary)).toEqual([{ key: 'd1', start: 1_000_000, end: 1_001_000, count: 2, closedBy: 'watermark', values: { x_count: 2 } }]);
  });
});
