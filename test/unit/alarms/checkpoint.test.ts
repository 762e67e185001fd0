import { describe, expect, it } from 'vitest';
import { DetectTransform } from '../../../src/analytics/alarms/detect-transform.js';
import { detectSchema } from '../../../src/analytics/alarms/schema.js';
import type { StateOp } from '../../../src/pipeline/transform.js';
import { rig } from './helpers.js';

const threshold = { rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 80, clear: 75 } };

/** Applies checkpoints the way the buffer stores them: a later put of a key replaces an earlier one. */
function persist(into: Map<string, string>, ops: readonly StateOp[]): void {
  for (const op of ops) op.type === 'put' ? into.set(op.key, op.value) : into.delete(op.key);
}

describe('detect: checkpoint and restore', () => {
  it('an active alarm survives a restart: no second raise, and the clear is still recorded', () => {
    const r = rig(threshold);
    const disk = new Map<string, string>();
    r.feed(90);
    persist(disk, r.transform.checkpoint());
    expect(r.transitions()).toEqual(['raised']);
    const episode = (r.records[0]!.reading.result as { episode: string }).episode;

    const after = new DetectTransform('detect#0', detectSchema.parse(threshold));
    after.restore(disk);
    expect(after.alarms().map((a) => [a.deviceId, a.state])).toEqual([['th-1', 'active']]);
    const again = after.process({ deviceId: 'th-1', topic: 'x', receivedAt: r.clock.now(), values: { t: 95 } }, r.ctx);
    expect(again.produced).toBeUndefined();
    const cleared = after.process({ deviceId: 'th-1', topic: 'x', receivedAt: r.clock.now(), values: { t: 70 } }, r.ctx);
    expect(cleared.produced?.map((p) => p.reading.result)).toMatchObject([{ transition: 'cleared', episode }]);
  });

  it('restore replaces everything held before (a failed append re-reads the committed state)', () => {
    const r = rig(threshold);
    const disk = new Map<string, string>();
    r.feed(60, { deviceId: 'a' });
    persist(disk, r.transform.checkpoint());
    // Not committed: the raise is forgotten when the state is re-read, and made again by the resent reading.
    r.feed(90, { deviceId: 'a' });
    r.feed(90, { deviceId: 'b' });
    r.transform.restore(disk);
    expect(r.transform.alarms({ all: true }).map((a) => [a.deviceId, a.state])).toEqual([['a', 'inactive']]);
    r.feed(90, { deviceId: 'a' });
    expect(r.transitions()).toEqual(['raised', 'raised', 'raised']);
  });

  it('checkpoints only the series that changed, each whole', () => {
    const r = rig(threshold);
    r.feed(60, { deviceId: 'a' });
    r.feed(60, { deviceId: 'b' });
    expect(r.transform.checkpoint().map((o) => o.key).sort()).toEqual(['s:a', 's:b']);
    expect(r.transform.checkpoint()).toEqual([]);
    r.feed(61, { deviceId: 'b' });
    const ops = r.transform.checkpoint();
    expect(ops.map((o) => o.key)).toEqual(['s:b']);
    expect(JSON.parse((ops[0] as { value: string }).value)).toMatchObject({ key: { deviceId: 'b' }, value: 61 });
    // A tick that changes nothing writes nothing.
    r.tick(1_000);
    expect(r.transform.checkpoint()).toEqual([]);
  });

  it('bounded series: evicts the least recently seen quiet series, never a raised alarm', () => {
    const r = rig({ ...threshold, maxSeries: 2 });
    r.feed(90, { deviceId: 'a' });
    r.feed(60, { deviceId: 'b' });
    r.transform.checkpoint();
    r.feed(60, { deviceId: 'c' });
    expect(r.transform.alarms({ all: true }).map((a) => a.deviceId).sort()).toEqual(['a', 'c']);
    expect(r.transform.checkpoint()).toEqual(expect.arrayContaining([{ type: 'del', key: 's:b' }]));
    expect(r.ctx.metrics.get('alarm_series_evicted_total', { rule: 'hot' })).toBe(1);
    r.feed(90, { deviceId: 'c' });
    r.feed(60, { deviceId: 'd' });
    expect(r.transform.alarms({ all: true }).map((a) => a.deviceId).sort()).toEqual(['a', 'c']);
    expect(r.ctx.metrics.get('alarm_series_refused_total', { rule: 'hot' })).toBe(1);
  });

  it('a pending hold survives a restart and ends on the first tick after it', () => {
    const config = { ...threshold, raiseHoldMs: 10_000 };
    const r = rig(config);
    const disk = new Map<string, string>();
    r.feed(90);
    persist(disk, r.transform.checkpoint());
    const after = new DetectTransform('detect#0', detectSchema.parse(config));
    after.restore(disk);
    r.clock.advance(10_000);
    expect(after.onTime(r.clock.now(), r.ctx).map((p) => (p.reading.result as { transition: string }).transition)).toEqual(['raised']);
  });
});

describe('detect: missing data after a restart', () => {
  it('the time the gateway was down is not counted as the series silence', () => {
    const config = { rule: 'silent', detector: { kind: 'missing', expectedIntervalMs: 30_000 } };
    const r = rig(config);
    const disk = new Map<string, string>();
    r.feed(1, { deviceId: 'a' });
    persist(disk, r.transform.checkpoint());
    // Down for ten minutes, then restored: the devices get expectedIntervalMs from the first tick to report.
    r.clock.advance(600_000);
    const after = new DetectTransform('detect#0', detectSchema.parse(config));
    after.restore(disk);
    expect(after.onTime(r.clock.now(), r.ctx)).toEqual([]);
    r.clock.advance(30_001);
    expect(after.onTime(r.clock.now(), r.ctx).map((p) => p.reading.deviceId)).toEqual(['a']);
  });
});

describe('detect: restoring state saved under another config', () => {
  it('keeps a raised alarm when the detector changed, with a fresh baseline, and drops entries of another rule or unreadable ones', () => {
    const r = rig({ rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 80, clear: 75 } });
    const disk = new Map<string, string>();
    r.feed(90, { deviceId: 'a' });
    persist(disk, r.transform.checkpoint());
    disk.set('s:broken', '{not json');
    disk.set('s:other', JSON.stringify({ ...JSON.parse(disk.get('s:a')!), rule: 'cold', key: { deviceId: 'other' } }));

    const ewma = new DetectTransform('detect#0', detectSchema.parse({ rule: 'hot', field: 't', detector: { kind: 'ewma', warmup: 2 } }));
    ewma.restore(disk);
    expect(ewma.alarms({ all: true }).map((a) => [a.deviceId, a.state])).toEqual([['a', 'active']]);
    // The unusable entries are deleted at the next checkpoint; the series under a new detector is rewritten.
    const ops = ewma.checkpoint();
    expect(ops.filter((o) => o.type === 'del').map((o) => o.key).sort()).toEqual(['s:broken', 's:other']);
    expect(ops.filter((o) => o.type === 'put').map((o) => o.key)).toEqual(['s:a']);
    // The new detector warms up from nothing (no judgement yet: the alarm stays raised), then judges.
    for (const v of [20, 20, 20]) ewma.process({ deviceId: 'a', topic: 'x', receivedAt: r.clock.now(), values: { t: v } }, r.ctx);
    expect(ewma.alarms().map((a) => a.state)).toEqual([]);
  });
});
