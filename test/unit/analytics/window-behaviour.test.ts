import { describe, expect, it } from 'vitest';
import { windowSchema } from '../../../src/analytics/windows/schema.js';
import { transformEntrySchema } from '../../../src/pipeline/transform-schemas.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import '../../../src/pipeline/transforms/index.js';
import '../../../src/pipeline/transforms/schemas.js';
import { ctxAt, makeWindow, producedOf, reading, summary } from './window-helpers.js';

const MIN = 60_000;

describe('late readings', () => {
  it('go to the side output: filtered with reason late, counted, and kept in the stream as a derived record tagged late', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], allowedLatenessMs: 1_000, name: 'room_temp' });
    t.process(reading('d1', 10_000, { x: 1 }), ctx);
    t.process(reading('d1', 70_000, { x: 2 }), ctx); // watermark 69 s: [0, 60 s) closed
    const late = reading('d1', 59_000, { x: 3 }, { seq: 7, tags: { room: 'r1' } });
    const result = t.process(late, ctx);
    expect(result).toMatchObject({ fate: 'filter', reason: 'late' });
    expect(producedOf(result)).toEqual([
      { kind: 'derived', lane: 'telemetry', reading: { ...late, tags: { room: 'r1', late: true }, result: { rule: 'room_temp', late: { window: 'tumbling', eventTime: 59_000, watermark: 69_000 } } } },
    ]);
    expect(ctx.metrics.get('window_late_total', { window: 'room_temp' })).toBe(1);
  });

  it('with late: pass, go on unchanged but tagged late, still counted', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], allowedLatenessMs: 0, late: 'pass' });
    t.process(reading('d1', 70_000, { x: 2 }), ctx);
    const late = reading('d1', 10_000, { x: 3 });
    expect(t.process(late, ctx)).toEqual({ fate: 'pass', reading: { ...late, tags: { late: true } } });
    expect(ctx.metrics.get('window_late_total')).toBe(1);
  });
});

describe('device clocks far ahead', () => {
  it('a reading more than maxFutureMs ahead of the gateway goes to the side output and does not move its key on', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], aggregates: ['count'], maxFutureMs: 60_000 });
    const ahead = reading('d1', 1_000 + 61_000, { x: 1 }, { receivedAt: 1_000 });
    const result = t.process(ahead, ctx);
    expect(result).toMatchObject({ fate: 'filter', reason: 'future' });
    expect(producedOf(result)[0]!.reading.tags).toEqual({ late: true, future: true });
    expect(ctx.metrics.get('window_future_total')).toBe(1);
    expect(t.process(reading('d1', 2_000, { x: 1 }, { receivedAt: 2_000 }), ctx)).toEqual({ fate: 'consume' });
  });
});

describe('watermarks per key', () => {
  it('close the windows of a key that never goes silent, one by one, as its readings move on', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], aggregates: ['count'], allowedLatenessMs: 2_000 });
    const out = [];
    for (let ts = 0; ts < 10 * MIN; ts += 1_000) out.push(...producedOf(t.process(reading('busy', ts, { x: 1 }), ctx)));
    expect(out.map(summary).map((s) => [s.start, s.count])).toEqual(Array.from({ length: 9 }, (_, i) => [i * MIN, 60]));
  });

  it('let an idle device hold back no one, and close its last window from onTime after idleTimeoutMs', async () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], aggregates: ['count'], allowedLatenessMs: 2_000, idleTimeoutMs: 90_000 });
    t.process(reading('quiet', 1_000, { x: 1 }, { receivedAt: 1_000 }), ctx);
    const busy = [];
    for (let ts = 0; ts <= 3 * MIN; ts += 10_000) busy.push(...producedOf(t.process(reading('busy', ts, { x: 1 }, { receivedAt: ts }), ctx)));
    expect(busy.map(summary).map((s) => [s.key, s.start])).toEqual([
      ['busy', 0],
      ['busy', MIN],
    ]);
    expect(t.onTime(90_999, ctx)).toEqual([]);
    const idle = t.onTime(91_000, ctx);
    expect(idle.map(summary)).toEqual([{ key: 'quiet', start: 0, end: MIN, count: 1, closedBy: 'idle', values: { x_count: 1 } }]);
    expect(idle[0]!.reading.result).toMatchObject({ early: true });
    // The range stays closed: a straggler for it is late, not a second aggregate of the same window.
    expect(t.process(reading('quiet', 30_000, { x: 1 }, { receivedAt: 92_000 }), ctx)).toMatchObject({ fate: 'filter', reason: 'late' });
  });
});

describe('bounds', () => {
  it('maxOpenWindows closes the oldest window early (counted), and its range stays closed', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], aggregates: ['count'], maxOpenWindows: 3 });
    const out = ['a', 'b', 'c', 'd', 'e'].flatMap((d) => producedOf(t.process(reading(d, 1_000, { x: 1 }), ctx)));
    expect(t.openWindows).toBe(3);
    expect(out.map(summary).map((s) => [s.key, s.closedBy])).toEqual([
      ['a', 'bound'],
      ['b', 'bound'],
    ]);
    expect(ctx.metrics.get('window_closed_early_total', { window: 'window#0', reason: 'bound' })).toBe(2);
    expect(t.process(reading('a', 2_000, { x: 1 }), ctx)).toMatchObject({ fate: 'filter', reason: 'late' });
  });

  it('a sliding window keeps at most maxValuesPerWindow readings per key: past it the oldest falls out, closing what it ends', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'sliding', sizeMs: 1_000_000, fields: ['x'], aggregates: ['count'], maxValuesPerWindow: 4 });
    const out = [1, 2, 3, 4, 5, 6].flatMap((ts) => producedOf(t.process(reading('d', ts, { x: 1 }), ctx)));
    // The 5th reading makes 5: reading 1 falls out once the windows holding it (all five, here) have closed.
    // Reading 6 makes 5 again: reading 2 falls out, closing the one window holding it, which lacks reading 1.
    expect(out.map((r) => [summary(r).end, summary(r).count, summary(r).closedBy, (r.reading.result as { incomplete?: boolean }).incomplete ?? false])).toEqual([
      ...[2, 3, 4, 5, 6].map((end, i) => [end, i + 1, 'bound', false]),
      [7, 5, 'bound', true],
    ]);
    expect(ctx.metrics.get('window_closed_early_total', { window: 'window#0', reason: 'bound' })).toBe(6);
    expect(t.process(reading('d', 6, { x: 1 }), ctx)).toMatchObject({ fate: 'filter', reason: 'late' }); // closed stays closed
    const next = t.process(reading('d', 8, { x: 1 }), ctx); // five kept again: reading 3 falls out with its window
    expect(next.fate).toBe('consume');
    expect(producedOf(next).map((r) => [summary(r).end, summary(r).count])).toEqual([[9, 5]]);
  });

  it('maxKeys forgets the longest-quiet keys that hold no window, counted', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: 10, fields: ['x'], allowedLatenessMs: 0, maxKeys: 10 });
    // Each device sends twice, 20 ms apart: its first window closes, so it holds a watermark and nothing else.
    for (let i = 0; i < 10; i++) for (const ts of [0, 20]) t.process(reading(`d${i}`, i * 100 + ts, { x: 1 }, { receivedAt: i * 100 + ts }), ctx);
    t.checkpoint();
    t.flush(ctx); // every key now holds only a watermark
    t.process(reading('new', 5_000, { x: 1 }, { receivedAt: 5_000 }), ctx);
    expect(ctx.metrics.get('window_keys_forgotten_total')).toBe(2);
    expect(t.checkpoint().filter((op) => op.type === 'del').map((op) => op.key)).toEqual(['k:["d0"]', 'k:["d1"]']);
  });

  it('percentiles are exact up to maxValuesPerWindow, then come from a uniform sample and say approximate', () => {
    const ctx = ctxAt(0);
    const make = (bound: number) => makeWindow({ kind: 'tumbling', sizeMs: 1_000_000, fields: ['x'], aggregates: ['p50', 'p90', 'count'], maxValuesPerWindow: bound });
    const run = (bound: number) => {
      const t = make(bound);
      for (let i = 0; i < 2_000; i++) t.process(reading('d', i, { x: (i * 7919) % 2_000 }), ctx);
      return t.flush(ctx)[0]!.reading;
    };
    const exact = run(10_000);
    expect(exact.values).toEqual({ x_p50: 999.5, x_p90: expect.closeTo(1799.1, 9), x_count: 2_000 });
    expect(exact.result).not.toHaveProperty('approximate');
    const sampled = run(200);
    expect(sampled.result).toMatchObject({ approximate: true });
    expect(sampled.values.x_count).toBe(2_000);
    expect(Math.abs((sampled.values.x_p50 as number) - 1_000)).toBeLessThan(150);
    expect(Math.abs((sampled.values.x_p90 as number) - 1_800)).toBeLessThan(150);
  });
});

describe('group-by fields', () => {
  it('aggregate the devices of a room together and trace each back by its own seq and event-time range', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['temp', 'co2'], aggregates: ['mean', 'max'], groupBy: ['site', 'room'], allowedLatenessMs: 0 });
    const tags = { site: 's1', room: 'r2' };
    t.process(reading('th-1', 1_000, { temp: 20 }, { seq: 41, tags }), ctx);
    t.process(reading('th-2', 2_000, { temp: 22, co2: 600 }, { seq: 7, tags }), ctx);
    t.process(reading('th-1', 3_000, { temp: 21 }, { seq: 42, tags }), ctx);
    expect(t.process(reading('th-3', 4_000, { temp: 30 }), ctx)).toMatchObject({ fate: 'pass' }); // no room tag: not this window's
    expect(ctx.metrics.get('window_skipped_total', { window: 'window#0', reason: 'no_group_key' })).toBe(1);
    const [agg] = t.flush(ctx);
    expect(agg!.reading).toMatchObject({
      deviceId: 's1/r2',
      ts: MIN,
      values: { temp_mean: 21, temp_max: 22, co2_mean: 600, co2_max: 600 },
      result: {
        rule: 'window#0',
        window: { kind: 'tumbling', start: 0, end: MIN },
        key: { site: 's1', room: 'r2' },
        count: 3,
        sources: [
          { deviceId: 'th-1', firstSeq: 41, lastSeq: 42, firstTs: 1_000, lastTs: 3_000 },
          { deviceId: 'th-2', firstSeq: 7, lastSeq: 7, firstTs: 2_000, lastTs: 2_000 },
        ],
        closedBy: 'stop',
      },
    });
  });

  it('pass a reading that has none of the fields, untouched', () => {
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['temp'] });
    const r = reading('d', 1, { rssi: -70, temp: 'n/a' } as never);
    expect(t.process(r, ctxAt())).toEqual({ fate: 'pass', reading: r });
  });
});

describe('stop and state', () => {
  it('onStop keep emits nothing on flush: the open windows stay in the checkpointed state', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], onStop: 'keep' });
    t.process(reading('d', 1, { x: 1 }), ctx);
    expect(t.flush(ctx)).toEqual([]);
    const state = new Map(t.checkpoint().map((op) => [op.key, op.type === 'put' ? op.value : '']));
    const after = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], onStop: 'keep', name: 'renamed' });
    after.restore(state);
    // A new name does not change what is accumulated: the window goes on.
    expect(after.process(reading('d', MIN + 5_000, { x: 1 }), ctx).produced?.map(summary)).toEqual([
      { key: 'd', start: 0, end: MIN, count: 1, closedBy: 'watermark', values: { x_count: 1, x_mean: 1, x_min: 1, x_max: 1 } },
    ]);
  });

  it('sets aside state saved under another shape (here other aggregates): counted and logged, never closed with mismatched accumulators', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], onStop: 'keep', name: 'w' });
    t.process(reading('d', 1, { x: 1 }), ctx);
    t.process(reading('d', 2, { x: 3 }), ctx);
    t.process(reading('e', 2, { x: 5 }), ctx);
    const state = new Map(t.checkpoint().map((op) => [op.key, op.type === 'put' ? op.value : '']));
    const after = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], onStop: 'keep', name: 'w', aggregates: ['count', 'p95'] });
    after.attach(ctx);
    after.restore(state);
    expect(after.openWindows).toBe(0);
    // The next checkpoint stores the new shape and deletes the keys saved under the old one.
    expect(after.checkpoint().map((op) => [op.type, op.key]).sort()).toEqual([['del', 'k:["d"]'], ['del', 'k:["e"]'], ['put', 'c:']]);
    expect(after.onTime(10, ctx)).toEqual([]);
    expect(ctx.metrics.get('window_restore_discarded_total', { window: 'w' })).toBe(2);
    // New readings start afresh under the new shape.
    after.process(reading('d', 10, { x: 7 }), ctx);
    expect(after.process(reading('d', MIN + 5_000, { x: 1 }), ctx).produced?.map(summary)).toEqual([{ key: 'd', start: 0, end: MIN, count: 1, closedBy: 'watermark', values: { x_count: 1, x_p95: 7 } }]);
  });

  it('checkpoints only the keys that changed, and deletes a key forgotten after keyRetentionMs', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: 1_000, fields: ['x'], idleTimeoutMs: 1_000, keyRetentionMs: 5_000 });
    t.process(reading('a', 0, { x: 1 }, { receivedAt: 0 }), ctx);
    t.process(reading('b', 0, { x: 1 }, { receivedAt: 0 }), ctx);
    // The first checkpoint also stores the window's shape, which later ones leave alone.
    expect(t.checkpoint().map((op) => [op.type, op.key])).toEqual([
      ['put', 'c:'],
      ['put', 'k:["a"]'],
      ['put', 'k:["b"]'],
    ]);
    t.process(reading('b', 100, { x: 1 }, { receivedAt: 100 }), ctx);
    expect(t.checkpoint().map((op) => op.key)).toEqual(['k:["b"]']);
    expect(t.checkpoint()).toEqual([]);
    expect(t.onTime(1_000, ctx)).toHaveLength(1); // a idle: its window closes
    expect(t.onTime(5_000, ctx)).toHaveLength(1); // b idle too; a, quiet for keyRetentionMs, is forgotten
    expect(t.checkpoint().map((op) => [op.type, op.key])).toEqual([
      ['del', 'k:["a"]'],
      ['put', 'k:["b"]'],
    ]);
  });

  it('processing-time ticks rewrite only the keys whose windows they close', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: 1_000, time: 'processing', allowedLatenessMs: 0, fields: ['x'] });
    for (let i = 0; i < 100; i++) t.process(reading(`d${i}`, undefined, { x: 1 }, { receivedAt: i < 50 ? 100 : 1_500 }), ctx);
    t.checkpoint();
    expect(t.onTime(1_200, ctx)).toHaveLength(50);
    expect(t.checkpoint()).toHaveLength(50);
    expect(t.onTime(1_300, ctx)).toEqual([]);
    expect(t.checkpoint()).toEqual([]);
  });

  it('refuses state it cannot read with ERR_TRANSFORM_STATE, naming the key', () => {
    const t = makeWindow({ kind: 'tumbling', sizeMs: 1_000, fields: ['x'] });
    expect(() => t.restore(new Map([['k:["a"]', '{not json']]))).toThrow(expect.objectContaining({ code: 'ERR_TRANSFORM_STATE', message: expect.stringContaining('k:["a"]') }));
    expect(() => t.restore(new Map([['k:["a"]', '{"id":"other","windows":[],"arrivals":0}']]))).toThrow(expect.objectContaining({ code: 'ERR_TRANSFORM_STATE' }));
  });
});

describe('configuration', () => {
  it('names what a window kind is missing or does not take, and unknown aggregates', () => {
    const issues = (slice: Record<string, unknown>) => windowSchema.safeParse(slice).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues({ kind: 'tumbling', fields: ['x'] })).toEqual(['sizeMs: sizeMs is required for tumbling windows (the window length)']);
    expect(issues({ kind: 'session', gapMs: 5, sizeMs: 10, fields: ['x'] })).toEqual(['sizeMs: sizeMs does not apply to session windows']);
    expect(issues({ kind: 'hopping', sizeMs: 10, hopMs: 20, fields: ['x'] })[0]).toMatch(/^hopMs: hopMs must be at most sizeMs/);
    expect(issues({ kind: 'count', count: 5, fields: ['x'], aggregates: ['median'] })[0]).toMatch(/^aggregates.0: an aggregate is one of/);
    expect(issues({ kind: 'count', count: 5, fields: ['x'], colour: 'red' })[0]).toMatch(/colour/);
    expect(issues({ kind: 'tumbling', sizeMs: 10, fields: ['x'], aggregates: ['p99.9', 'p0', 'p100', 'stddev'] })).toEqual([]);
  });

  it('is a registered transform type: a transforms entry builds it, and the chain counts what it consumes and produces', () => {
    const entry = transformEntrySchema.parse({ type: 'window', kind: 'tumbling', sizeMs: 1_000, fields: ['x'], aggregates: ['sum'], allowedLatenessMs: 0 });
    const ctx = ctxAt(0);
    const chain = TransformChain.fromConfig([entry], ctx);
    const run = chain.run([reading('d', 10, { x: 1 }), reading('d', 20, { x: 2 }), reading('d', 1_500, { x: 4 }), reading('d', 30, { x: 8 })]);
    expect(run).toMatchObject({ consumed: 3, filtered: 1, produced: 2, filteredBy: { 'window#0:late': 1 } });
    expect(run.readings.map((r) => [r.kind, r.values])).toEqual([
      ['aggregate', { x_sum: 3 }],
      ['derived', { x: 8 }],
    ]);
    expect(TransformChain.ledgerDelta(run)).toEqual({ received: 2, filtered: 1, consumed: 3, produced: 2 });
  });
});

describe('gauges', () => {
  it('show the windows open and the keys held now, as they open and close', () => {
    const ctx = ctxAt(0);
    const t = makeWindow({ kind: 'tumbling', sizeMs: MIN, fields: ['x'], allowedLatenessMs: 0, name: 'room_temp' });
    t.attach(ctx);
    const gauges = (): [number | undefined, number | undefined] => {
      const s = ctx.metrics.snapshot();
      return [s['window_open_windows{window="room_temp"}'], s['window_keys{window="room_temp"}']];
    };
    expect(gauges()).toEqual([0, 0]);
    t.process(reading('d1', 10_000, { x: 1 }), ctx);
    t.process(reading('d2', 10_000, { x: 1 }), ctx);
    expect(gauges()).toEqual([2, 2]);
    t.process(reading('d1', 70_000, { x: 2 }), ctx); // d1's first window closes, its second opens
    expect(gauges()).toEqual([2, 2]);
    t.flush(ctx);
    expect(gauges()).toEqual([0, 2]);
  });
});
