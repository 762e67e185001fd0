import { describe, it, expect } from 'vitest';
import type { TruthRecord } from '../../../device-sim/anomalies/truth.js';
import { AlarmCollector, alarmFromBytes, alarmFromJson, type AlarmEvent } from '../../../device-sim/audit/alarm-records.js';
import { scoreAlarms } from '../../../device-sim/audit/alarm-score.js';
import { formatAlarmScore } from '../../../device-sim/audit/format-alarms.js';

const T = 1_764_000_000_000;
const truth = (device: string, field: string | null, kind: TruthRecord['kind'], start: number, end: number): TruthRecord => ({
  device,
  field,
  kind,
  start: T + start,
  end: T + end,
  magnitude: kind === 'stuck' || kind === 'dropout' ? null : 5,
  episodeId: `${device}/${field ?? '*'}/${kind}/${start}`,
});
const raise = (deviceId: string, field: string | null, at: number, episode = `${deviceId}-${at}`): AlarmEvent => ({ deviceId, field, rule: 'r', transition: 'raised', at: T + at, episode });

const truths = [
  truth('a', 't', 'step', 10_000, 20_000),
  truth('b', 't', 'spike', 5_000, 5_000),
  truth('c', 'co2', 'drift', 0, 60_000),
  truth('d', null, 'dropout', 30_000, 40_000),
];

describe('alarm scoring', () => {
  it('perfect: every episode raised once, no false positives', () => {
    const s = scoreAlarms(truths, [raise('a', 't', 12_000), raise('b', 't', 5_000), raise('c', 'co2', 45_000), raise('d', 't', 31_000)], 30_000);
    expect(s).toMatchObject({ episodes: 4, detected: 4, raises: 4, matchedRaises: 4, falsePositives: 0, precision: 1, recall: 1, flaps: 0, flapsPerEpisode: 0, maxFlaps: 0, missed: [] });
    // Latencies 2000, 0, 45000, 1000: nearest rank.
    expect(s.latencyMs).toEqual({ count: 4, p50: 1000, p95: 45_000, p99: 45_000, max: 45_000 });
    expect(s.byKind.dropout).toEqual({ episodes: 1, detected: 1, recall: 1, latencyMs: { count: 1, p50: 1000, p95: 1000, p99: 1000, max: 1000 }, flaps: 0, flapsPerEpisode: 0 });
  });

  it('missed: recall drops, per kind too, and the episode is listed', () => {
    const s = scoreAlarms(truths, [raise('a', 't', 12_000), raise('c', 'co2', 45_000), raise('d', null, 31_000)], 30_000);
    expect(s).toMatchObject({ detected: 3, recall: 0.75, precision: 1 });
    expect(s.byKind.spike).toMatchObject({ episodes: 1, detected: 0, recall: 0, latencyMs: null, flapsPerEpisode: null });
    expect(s.missed).toEqual([{ episodeId: truths[1]!.episodeId, device: 'b', field: 't', kind: 'spike', start: T + 5_000, end: T + 5_000 }]);
  });

  it('false positives: another field, another device, before the start, after end + tolerance', () => {
    const fp = [raise('a', 'humidity', 12_000), raise('x', 't', 12_000), raise('a', 't', 9_999), raise('a', 't', 20_000 + 30_001)];
    const s = scoreAlarms(truths, [raise('a', 't', 12_000), ...fp], 30_000);
    expect(s).toMatchObject({ raises: 5, matchedRaises: 1, falsePositives: 4, precision: 0.2, detected: 1, recall: 0.25 });
    expect(s.falsePositiveRaises).toEqual(fp);
    // At exactly end + tolerance it is still a (late) detection.
    expect(scoreAlarms(truths, [raise('a', 't', 50_000)], 30_000)).toMatchObject({ falsePositives: 0, detected: 1, latencyMs: { p50: 40_000 } });
  });

  it('flapping: extra raises on one episode count as flaps, not false positives', () => {
    const s = scoreAlarms(truths, [raise('a', 't', 11_000), raise('a', 't', 13_000), raise('a', 't', 15_000), raise('b', 't', 5_000), raise('b', 't', 6_000)], 30_000);
    expect(s).toMatchObject({ detected: 2, matchedRaises: 5, falsePositives: 0, precision: 1, flaps: 3, flapsPerEpisode: 1.5, maxFlaps: 2 });
    expect(s.byKind.step).toMatchObject({ flaps: 2, flapsPerEpisode: 2, latencyMs: { p50: 1000 } });
  });

  it('late: a raise after the end within the tolerance is a detection with a long latency', () => {
    const s = scoreAlarms([truth('a', 't', 'spike', 0, 0)], [raise('a', 't', 25_000)], 30_000);
    expect(s).toMatchObject({ detected: 1, falsePositives: 0, latencyMs: { p50: 25_000, p99: 25_000 } });
    expect(scoreAlarms([truth('a', 't', 'spike', 0, 0)], [raise('a', 't', 25_000)], 10_000)).toMatchObject({ detected: 0, falsePositives: 1, precision: 0, recall: 0 });
  });

  it('overlapping episodes: a raise goes to the one that started last before it', () => {
    const two = [truth('a', 't', 'drift', 0, 100_000), truth('a', 't', 'spike', 50_000, 50_000)];
    const s = scoreAlarms(two, [raise('a', 't', 10_000), raise('a', 't', 50_500)], 1000);
    expect(s).toMatchObject({ detected: 2, flaps: 0 });
    expect(s.byKind.spike!.latencyMs!.p50).toBe(500);
  });

  it('nothing to score gives n/a, not NaN', () => {
    const s = scoreAlarms([], [], 30_000);
    expect(s).toMatchObject({ precision: null, recall: null, latencyMs: null, flapsPerEpisode: null });
    expect(formatAlarmScore({ ...s, source: 'stream s', alarms: { repeatedRaises: 0, otherTransitions: {}, emptyPayloads: 0, notAlarms: 0, malformed: 0 }, outOfScope: { otherDevices: 0, beforeRun: 0 } })).toMatch(
      /precision +n\/a .*\n +recall +n\/a \(0 of 0 episodes detected\)\n +latency +no detections/,
    );
  });
});

describe('alarm records', () => {
  const record = (result: object, extra: object = {}): object => ({
    id: 'r1',
    kind: 'alarm',
    deviceId: 'th-1',
    topic: 'tidegate/alarms/hot/th-1',
    ts: T + 5,
    receivedAt: T + 6,
    values: { value: 30 },
    result: { rule: 'hot', detector: 'threshold', key: { deviceId: 'th-1', field: 'temperature' }, transition: 'raised', state: 'active', severity: 'major', value: 30, threshold: 28, episode: 3, raisedAt: T + 4, readings: [], ...result },
    ...extra,
  });

  it('reads the fields scoring needs from the gateway\'s alarm record', () => {
    expect(alarmFromJson(record({}))).toEqual({ alarm: { deviceId: 'th-1', field: 'temperature', rule: 'hot', transition: 'raised', at: T + 4, episode: '3' } });
    expect(alarmFromJson(record({ transition: 'cleared', clearedAt: T + 9 }))).toMatchObject({ alarm: { transition: 'cleared', at: T + 5 } });
    expect(alarmFromJson(record({ key: { deviceId: 'th-1' } }))).toMatchObject({ alarm: { field: null } });
    expect(alarmFromJson({ kind: 'reading', deviceId: 'th-1' })).toEqual({ skip: 'notAlarm' });
    expect(alarmFromJson(record({ transition: 'exploded' }))).toEqual({ skip: 'malformed' });
    expect(alarmFromJson(record({ raisedAt: undefined }, { ts: 'soon' }))).toEqual({ skip: 'malformed' });
    expect(alarmFromBytes(Buffer.from('not json'))).toEqual({ skip: 'notAlarm' });
  });

  it('keeps each raise once and counts the rest', () => {
    const c = new AlarmCollector();
    const bytes = Buffer.from(JSON.stringify(record({})));
    c.add(alarmFromBytes(bytes));
    c.add(alarmFromBytes(bytes)); // redelivered
    c.add(alarmFromJson(record({ episode: 4, raisedAt: T + 100 })));
    c.add(alarmFromJson(record({ transition: 'cleared' })));
    c.add(alarmFromJson(record({ transition: 'nope' })));
    c.add(alarmFromJson({ kind: 'reading' }));
    c.addEmptyPayload();
    expect(c.result).toMatchObject({ repeatedRaises: 1, otherTransitions: { cleared: 1 }, emptyPayloads: 1, notAlarms: 1, malformed: 1 });
    expect(c.result.raises.map((r) => r.episode)).toEqual(['3', '4']);
  });
});
