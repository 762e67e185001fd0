import { describe, expect, it } from 'vitest';
import { rig, T0 } from './helpers.js';

const threshold = { rule: 'hot', field: 't', detector: { kind: 'threshold', direction: 'above', raise: 80, clear: 75 } };

describe('alarm state machine (detect, threshold)', () => {
  it('flapping around the raise level makes exactly one episode', () => {
    const r = rig(threshold);
    for (let i = 0; i < 50; i++) r.feed(i % 2 === 0 ? 81 : 79, { advanceMs: 100 });
    r.feed(70, { advanceMs: 100 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
    const [raised, cleared] = r.records.map((x) => x.reading.result as Record<string, unknown>);
    expect(raised!.episode).toBe(cleared!.episode);
    expect(cleared!.clearedAt).toBe(r.clock.now());
  });

  it('flapping across both levels with a clear hold stays one episode', () => {
    const r = rig({ ...threshold, clearHoldMs: 1_000 });
    for (let i = 0; i < 20; i++) r.feed(i % 2 === 0 ? 85 : 70, { advanceMs: 200 });
    expect(r.transitions()).toEqual(['raised']);
    r.feed(70, { advanceMs: 200 });
    r.tick(1_000);
    expect(r.transitions()).toEqual(['raised', 'cleared']);
  });

  it('raises only after the raise hold, with no further reading needed', () => {
    const r = rig({ ...threshold, raiseHoldMs: 5_000 });
    r.feed(90);
    r.tick(4_000);
    expect(r.transitions()).toEqual([]);
    r.tick(1_000);
    expect(r.transitions()).toEqual(['raised']);
    expect((r.records[0]!.reading.result as { raisedAt: number }).raisedAt).toBe(T0 + 5_000);
  });

  it('a breach shorter than the raise hold raises nothing', () => {
    const r = rig({ ...threshold, raiseHoldMs: 5_000 });
    r.feed(90);
    r.feed(60, { advanceMs: 3_000 });
    r.tick(10_000);
    expect(r.transitions()).toEqual([]);
  });

  it('waits for the re-raise interval after a clear', () => {
    const r = rig({ ...threshold, minReraiseMs: 10_000 });
    r.feed(90);
    r.feed(60, { advanceMs: 1_000 });
    r.feed(90, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
    r.tick(8_999);
    expect(r.transitions()).toEqual(['raised', 'cleared']);
    r.tick(1);
    expect(r.transitions()).toEqual(['raised', 'cleared', 'raised']);
    const episodes = new Set(r.records.map((x) => (x.reading.result as { episode: string }).episode));
    expect(episodes.size).toBe(2);
  });

  it('shelving suppresses raises until it expires, then raises a condition that still holds', () => {
    const r = rig(threshold);
    r.feed(60);
    r.records.push(...r.transform.shelve('th-1', T0 + 10_000, r.clock.now(), r.ctx));
    r.feed(90, { advanceMs: 1_000 });
    r.tick(5_000);
    expect(r.transitions()).toEqual(['shelved']);
    r.tick(4_000);
    expect(r.transitions()).toEqual(['shelved', 'unshelved', 'raised']);
  });

  it('acknowledging marks the active alarm active-acknowledged, once', () => {
    const r = rig(threshold);
    r.feed(90);
    r.records.push(...r.transform.acknowledge('th-1', r.clock.now(), r.ctx));
    expect(r.transitions()).toEqual(['raised', 'acknowledged']);
    expect((r.records[1]!.reading.result as { state: string }).state).toBe('active-acknowledged');
    expect(() => r.transform.acknowledge('th-1', r.clock.now(), r.ctx)).toThrow(/nothing to acknowledge/);
    expect(r.transform.alarms()[0]!.state).toBe('active-acknowledged');
  });

  it('writes alarm records in the agreed format', () => {
    const r = rig(threshold);
    r.feed(50);
    r.feed(82, { advanceMs: 10 });
    const rec = r.records[0]!;
    expect(rec.kind).toBe('alarm');
    expect(rec.lane).toBe('alarm');
    expect(rec.reading).toMatchObject({ deviceId: 'th-1', topic: 'tidegate/alarms/hot/th-1', ts: T0 + 10, receivedAt: T0 + 10, values: { value: 82 } });
    expect(rec.reading.result).toEqual({
      rule: 'hot',
      detector: 'threshold',
      key: { deviceId: 'th-1', field: 't' },
      transition: 'raised',
      state: 'active',
      severity: 'major',
      value: 82,
      threshold: 80,
      episode: `hot/th-1/${T0 + 10}`,
      raisedAt: T0 + 10,
      readings: [
        { deviceId: 'th-1', seq: 0, ts: T0 },
        { deviceId: 'th-1', seq: 1, ts: T0 + 10 },
      ],
    });
  });

  it('keys series by group tags when groupBy is set', () => {
    const r = rig({ ...threshold, groupBy: ['site', 'room'] });
    r.feed(90, { deviceId: 'a', tags: { site: 's1', room: 'r/2' } });
    r.feed(90, { deviceId: 'b', tags: { site: 's1', room: 'r/2' } });
    r.feed(90, { deviceId: 'c' });
    expect(r.transitions()).toEqual(['raised']);
    expect(r.records[0]!.reading).toMatchObject({ deviceId: 's1,r/2', topic: 'tidegate/alarms/hot/s1,r_2' });
    expect(r.records[0]!.reading.result).toMatchObject({ key: { deviceId: 's1,r/2', field: 't', site: 's1', room: 'r/2' } });
    expect(r.ctx.metrics.get('alarm_readings_skipped_total', { rule: 'hot', reason: 'no_group_tag' })).toBe(1);
  });

  it('passes the readings on unchanged, or consumes them when configured', () => {
    const a = rig(threshold);
    expect(a.feed(90).fate).toBe('pass');
    const b = rig({ ...threshold, readings: 'consume' });
    const result = b.feed(90);
    expect(result.fate).toBe('consume');
    expect(result.produced).toHaveLength(1);
  });

  it('counts transitions by rule, severity and transition, every series present from the start', () => {
    const r = rig({ ...threshold, severity: 'critical' });
    r.feed(90);
    const m = r.ctx.metrics;
    expect(m.get('alarm_transitions_total', { rule: 'hot', severity: 'critical', transition: 'raised' })).toBe(1);
    expect(m.snapshot()).toHaveProperty('alarm_transitions_total{rule="hot",severity="critical",transition="unshelved"}', 0);
    expect(m.get('alarm_detector_evaluations_total', { rule: 'hot' })).toBe(1);
  });
});
