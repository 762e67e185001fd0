import { describe, expect, it } from 'vitest';
import { median } from '../../../src/analytics/alarms/detectors/mad.js';
import { detectSchema } from '../../../src/analytics/alarms/schema.js';
import { rig, T0 } from './helpers.js';

describe('detectors', () => {
  it('threshold below: raises at the raise level, clears past the clear level', () => {
    const r = rig({ rule: 'cold', field: 't', detector: { kind: 'threshold', direction: 'below', raise: 2, clear: 4 } });
    r.feed(5);
    r.feed(2);
    r.feed(3.5);
    expect(r.transitions()).toEqual(['raised']);
    r.feed(4);
    expect(r.transitions()).toEqual(['raised', 'cleared']);
  });

  it('rate of change: raises on a fast rise within the window, clears when it levels off', () => {
    const r = rig({ rule: 'surge', field: 't', detector: { kind: 'rate', windowMs: 10_000, maxPerSecond: 1, direction: 'rise' } });
    for (let i = 0; i < 5; i++) r.feed(20 + i * 0.5, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual([]);
    r.feed(30, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised']);
    expect((r.records[0]!.reading.result as { value: number }).value).toBeCloseTo(10 / 5, 5);
    // A fall does not count for direction rise; after the window the old values leave it.
    for (let i = 0; i < 12; i++) r.feed(30, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
  });

  it('flatline by count: N readings without a change beyond epsilon', () => {
    const r = rig({ rule: 'stuck', field: 't', detector: { kind: 'flatline', epsilon: 0.05, readings: 5 } });
    for (let i = 0; i < 4; i++) r.feed(20 + (i % 2) * 0.01, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual([]);
    r.feed(20.02, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised']);
    r.feed(21, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
  });

  it('flatline by time is noticed by the ticker alone', () => {
    const r = rig({ rule: 'stuck', field: 't', detector: { kind: 'flatline', ms: 60_000 } });
    r.feed(20);
    r.tick(59_999);
    expect(r.transitions()).toEqual([]);
    r.tick(1);
    expect(r.transitions()).toEqual(['raised']);
  });

  it('missing data: raised with no reading arriving, cleared by the next reading', () => {
    const r = rig({ rule: 'silent', detector: { kind: 'missing', expectedIntervalMs: 30_000 } });
    r.feed(1, { deviceId: 'a' });
    r.feed(1, { deviceId: 'b' });
    for (let i = 0; i < 3; i++) r.tick(10_000);
    expect(r.transitions()).toEqual([]);
    r.feed(1, { deviceId: 'b' });
    r.tick(1_000);
    expect(r.transitions()).toEqual(['raised']);
    expect(r.records[0]!.reading).toMatchObject({ deviceId: 'a', values: { value: 31_000 } });
    expect(r.records[0]!.reading.result).toMatchObject({ key: { deviceId: 'a' }, detector: 'missing', threshold: 30_000 });
    r.tick(60_000);
    expect(r.transitions()).toEqual(['raised', 'raised']);
    expect(r.records[1]!.reading.deviceId).toBe('b');
    r.feed(1, { deviceId: 'a' });
    expect(r.transitions()).toEqual(['raised', 'raised', 'cleared']);
  });

  it('EWMA: no judgement during warm-up, then raises on an outlier and clears on normal values', () => {
    const r = rig({ rule: 'odd', field: 't', detector: { kind: 'ewma', alpha: 0.1, z: 4, warmup: 30 } });
    r.feed(100);
    for (let i = 0; i < 29; i++) r.feed(20 + (i % 3) - 1, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual([]);
    for (let i = 0; i < 30; i++) r.feed(20 + (i % 3) - 1, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual([]);
    r.feed(40, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised']);
    expect((r.records[0]!.reading.result as { value: number }).value).toBeGreaterThan(4);
    r.feed(20, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
  });

  it('median/MAD: an outlier in a skewed series raises, ordinary skew does not', () => {
    const r = rig({ rule: 'robust', field: 't', detector: { kind: 'mad', window: 51, z: 3.5, warmup: 20 } });
    // Mostly small values with an occasional moderate one: a mean and deviation would be dragged, the median is not.
    // Values spread over 1–5.5 with a long right tail (an 8 now and then) that a z-score on the mean would flag.
    const skewed = Array.from({ length: 40 }, (_, i) => (i % 9 === 8 ? 8 : 1 + ((i * 7) % 10) * 0.5));
    for (const v of skewed) r.feed(v, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual([]);
    r.feed(40, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised']);
    r.feed(3, { advanceMs: 1_000 });
    expect(r.transitions()).toEqual(['raised', 'cleared']);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('refuses configurations that cannot work, with the path', () => {
    const bad = detectSchema.safeParse({ rule: 'x', detector: { kind: 'threshold', raise: 10, clear: 12 } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toContain('field');
    expect(paths).toContain('detector.clear');
    expect(detectSchema.safeParse({ rule: 'a/b', field: 't', detector: { kind: 'threshold', raise: 1 } }).success).toBe(false);
    expect(detectSchema.safeParse({ rule: 'x', field: 't', detector: { kind: 'flatline' } }).success).toBe(false);
  });

  it('skips readings without a usable value, counted, and passes them on', () => {
    const r = rig({ rule: 'hot', field: 'temp', detector: { kind: 'threshold', raise: 1 } });
    expect(r.feed(5).fate).toBe('pass');
    expect(r.ctx.metrics.get('alarm_readings_skipped_total', { rule: 'hot', reason: 'no_field' })).toBe(1);
    expect(r.clock.now()).toBe(T0);
  });
});

describe('seasonal detector', () => {
  it('judges a value against the same hour of the week, not against the whole week', async () => {
    const { hourOfWeek } = await import('../../../src/analytics/alarms/detectors/seasonal.js');
    // 2023-11-14T22:13:20Z is a Tuesday: day 2, hour 22; at UTC+2 it is Wednesday 00:13.
    expect(hourOfWeek(T0, 0)).toBe(2 * 24 + 22);
    expect(hourOfWeek(T0, 120)).toBe(3 * 24 + 0);
    const r = rig({ rule: 'power', field: 't', detector: { kind: 'seasonal', warmup: 3, z: 4 } });
    const hour = 3_600_000;
    const week = 168 * hour;
    // Three weeks: 100 in this hour (a busy one), about 10 in the next. Small noise so the variance is not zero.
    for (let w = 0; w < 3; w++) {
      r.clock.advance(w === 0 ? 0 : week - hour);
      r.feed(100 + w);
      r.clock.advance(hour);
      r.feed(10 + w);
    }
    expect(r.transitions()).toEqual([]);
    // Week four: 100 in the busy hour is normal; 100 in the quiet hour is an anomaly for that hour.
    r.clock.advance(week - hour);
    r.feed(101);
    expect(r.transitions()).toEqual([]);
    r.clock.advance(hour);
    r.feed(100);
    expect(r.transitions()).toEqual(['raised']);
  });
});

describe('detect rules in the config', () => {
  it('refuses two rules of the same name, with the path of the second', async () => {
    const { validateConfig } = await import('../../../src/config/load.js');
    const rule = { type: 'detect', rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 1 } };
    expect(() => validateConfig({ transforms: [rule, { type: 'drop_fields', fields: ['x'] }, rule] }, 'test')).toThrow(/transforms\[2\]\.rule: alarm rule "hot" is already used by transforms\[0\]/);
  });
});
