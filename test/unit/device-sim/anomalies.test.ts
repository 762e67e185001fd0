import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { DeviceAnomalies } from '../../../device-sim/anomalies/inject.js';
import { globRegExp, placeEpisodes, type Episode } from '../../../device-sim/anomalies/plan.js';
import { parseTruth, TruthCollector, TruthFileError, TruthWriter } from '../../../device-sim/anomalies/truth.js';
import { SimDevice } from '../../../device-sim/model/device.js';
import { gaussian, mulberry32 } from '../../../device-sim/model/random.js';
import { OptionsError } from '../../../device-sim/options.js';
import { resolveOptions } from '../../../device-sim/plan.js';
import { ScenarioError } from '../../../device-sim/scenario/errors.js';
import { parseScenario } from '../../../device-sim/scenario/load.js';
import type { GeneratorSpec } from '../../../device-sim/scenario/schema-generators.js';

const T0 = 1_764_000_000_000;
const fleets = [
  { name: 'rooms', id: 'th-{i:02}', count: 20, profile: 'th', interval: '1s' },
  { name: 'doors', id: 'door-{i:02}', count: 2, profile: 'door', interval: '1s' },
];

function problems(anomalies: unknown[]): string[] {
  try {
    parseScenario({ run: { duration: '10m' }, fleets, anomalies }, 'test.yaml');
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

/** A constant 20.0 series (one reading per second) through one device's episodes; null where the device is silent. */
function series(episodes: Episode[], n: number, fields: Record<string, GeneratorSpec> = { t: { type: 'constant', value: 20 } }): { values: Array<number | null>; truth: TruthCollector } {
  const truth = new TruthCollector();
  const a = new DeviceAnomalies('d-1', episodes, fields, 7, truth);
  const values: Array<number | null> = [];
  for (let i = 0; i < n; i++) {
    const due = i * 1000;
    if (a.silent(due, T0 + due)) {
      values.push(null);
      continue;
    }
    const v: Record<string, number> = { t: 20 };
    a.apply(v, due, T0 + due);
    values.push(v.t as number);
  }
  a.closeAll();
  return { values, truth };
}

const ep = (e: Partial<Episode> & Pick<Episode, 'kind'>): Episode => ({
  id: `x/${e.kind}`,
  field: e.kind === 'dropout' ? null : 't',
  startMs: 3000,
  endMs: e.kind === 'spike' ? Infinity : 6000,
  readings: e.kind === 'spike' ? 1 : Infinity,
  magnitude: 0,
  ...e,
});

describe('anomaly kinds change the series', () => {
  it('spike: the given number of readings from the start, then back', () => {
    const { values, truth } = series([ep({ kind: 'spike', magnitude: 50, readings: 2 })], 8);
    expect(values).toEqual([20, 20, 20, 70, 70, 20, 20, 20]);
    expect(truth.records).toEqual([{ device: 'd-1', field: 't', kind: 'spike', start: T0 + 3000, end: T0 + 4000, magnitude: 50, episodeId: 'x/spike', readings: 2 }]);
  });

  it('step: a level shift for the duration (end exclusive)', () => {
    const { values, truth } = series([ep({ kind: 'step', magnitude: -5 })], 8);
    expect(values).toEqual([20, 20, 20, 15, 15, 15, 20, 20]);
    expect(truth.records[0]).toMatchObject({ kind: 'step', start: T0 + 3000, end: T0 + 5000, magnitude: -5, readings: 3 });
  });

  it('drift: a linear ramp from 0 towards magnitude over the duration', () => {
    const { values } = series([ep({ kind: 'drift', magnitude: 9, startMs: 2000, endMs: 5000 })], 7);
    expect(values).toEqual([20, 20, 20, 23, 26, 20, 20]);
  });

  it('stuck: repeats the last value sent before the episode', () => {
    const truth = new TruthCollector();
    const a = new DeviceAnomalies('d-1', [ep({ kind: 'stuck', startMs: 2000, endMs: 5000 })], { t: { type: 'constant', value: 0 } }, 7, truth);
    const out = [10, 11, 12, 13, 14, 15, 16].map((x, i) => {
      const v = { t: x };
      a.apply(v, i * 1000, T0 + i * 1000);
      return v.t;
    });
    expect(out).toEqual([10, 11, 11, 11, 11, 15, 16]);
    a.closeAll();
    expect(truth.records[0]).toMatchObject({ kind: 'stuck', magnitude: null, start: T0 + 2000, end: T0 + 4000, readings: 3 });
  });

  it('dropout: the device sends nothing for the duration; the truth names no field', () => {
    const { values, truth } = series([ep({ kind: 'dropout' })], 8);
    expect(values).toEqual([20, 20, 20, null, null, null, 20, 20]);
    expect(truth.records).toEqual([{ device: 'd-1', field: null, kind: 'dropout', start: T0 + 3000, end: T0 + 5000, magnitude: null, episodeId: 'x/dropout', readings: 3 }]);
  });

  it('noise: seeded gaussian noise of the given sd inside the window only, rounded like the field', () => {
    const long = ep({ kind: 'noise', magnitude: 2, startMs: 10_000, endMs: 1_010_000 });
    const fields: Record<string, GeneratorSpec> = { t: { type: 'constant', value: 20, round: 1 } };
    const a = series([long], 1_020, fields).values as number[];
    expect(series([long], 1_020, fields).values).toEqual(a); // seeded: the same every time
    expect(a.slice(0, 10).every((v) => v === 20)).toBe(true);
    expect(a.slice(1_010).every((v) => v === 20)).toBe(true);
    const inside = a.slice(10, 1_010);
    expect(inside.every((v) => Math.round(v * 10) === v * 10)).toBe(true);
    const mean = inside.reduce((s, v) => s + v, 0) / inside.length;
    const sd = Math.sqrt(inside.reduce((s, v) => s + (v - mean) ** 2, 0) / inside.length);
    expect(mean).toBeGreaterThan(19.7);
    expect(mean).toBeLessThan(20.3);
    expect(sd).toBeGreaterThan(1.8);
    expect(sd).toBeLessThan(2.2);
  });

  it('noise with a factor: multiplies the variance around the recent mean, and the truth says factor', () => {
    const truth = new TruthCollector();
    const a = new DeviceAnomalies('d-1', [ep({ kind: 'noise', factor: 9, startMs: 1_000_000, endMs: 3_000_000 })], { t: { type: 'noise', mean: 20, sd: 1 } }, 7, truth);
    const rng = mulberry32(5);
    const out: number[] = [];
    for (let i = 0; i < 4_000; i++) {
      const v = { t: 20 + gaussian(rng) };
      a.apply(v, i * 1000, T0 + i * 1000);
      out.push(v.t);
    }
    a.closeAll();
    const sd = (xs: number[]): number => {
      const m = xs.reduce((s, x) => s + x, 0) / xs.length;
      return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
    };
    expect(sd(out.slice(0, 1_000))).toBeLessThan(1.1);
    // var(out) = var(mean) + 9 var(v - mean), with the mean an EWMA of weight 0.1: about 9.5, sd about 3.1.
    expect(sd(out.slice(1_000, 3_000))).toBeGreaterThan(2.8);
    expect(sd(out.slice(1_000, 3_000))).toBeLessThan(3.4);
    expect(sd(out.slice(3_000))).toBeLessThan(1.1);
    expect(truth.records).toEqual([expect.objectContaining({ kind: 'noise', magnitude: null, factor: 9, readings: 2_000 })]);
  });

  it('an episode shorter than the gap between readings touches nothing and is not in the truth', () => {
    const { values, truth } = series([ep({ kind: 'step', magnitude: 5, startMs: 3100, endMs: 3900 })], 6);
    expect(values).toEqual([20, 20, 20, 20, 20, 20]);
    expect(truth.records).toEqual([]);
  });

  it('a run that stops inside an episode still writes it, up to the last affected reading', () => {
    const { truth } = series([ep({ kind: 'step', magnitude: 1, startMs: 3000, endMs: 60_000 })], 5);
    expect(truth.records).toEqual([expect.objectContaining({ start: T0 + 3000, end: T0 + 4000, readings: 2 })]);
  });

  it('works on a real device generator: the th temperature shifted by exactly the step', () => {
    const o = resolveOptions({ scenario: parseScenario({ run: { duration: 60 }, fleets: [{ id: 'th-1', profile: 'th' }] }), seed: 3 });
    const spec = o.fleet[0]!;
    const plain = new SimDevice(spec, 3, o.replay, undefined);
    const shifted = new SimDevice(spec, 3, o.replay, undefined);
    const a = new DeviceAnomalies('th-1', [{ ...ep({ kind: 'step', magnitude: 4 }), field: 'temperature' }], spec.fieldSet.fields, 3, new TruthCollector());
    for (let i = 0; i < 8; i++) {
      const base = plain.next(T0 + i * 1000).temperature as number;
      const v = shifted.next(T0 + i * 1000);
      a.apply(v, i * 1000, T0 + i * 1000);
      expect(v.temperature).toBeCloseTo(i >= 3 && i < 6 ? base + 4 : base, 6);
    }
  });
});

describe('placing episodes', () => {
  const place = (anomalies: unknown[], seed: number, extra: object = {}): Map<number, Episode[]> =>
    resolveOptions({ scenario: parseScenario({ run: { duration: '10m' }, fleets, anomalies }), seed, ...extra }).anomalies;

  it('is seeded: same seed, same episodes; another seed, others', () => {
    const doc = [{ kind: 'step', fleets: ['rooms'], share: 0.5, field: 'temperature', within: ['1m', '9m'], count: 2, duration: '1m', magnitude: [2, 4] }];
    const a = place(doc, 42);
    expect(place(doc, 42)).toEqual(a);
    expect(place(doc, 43)).not.toEqual(a);
    expect(a.size).toBeGreaterThan(3);
    expect(a.size).toBeLessThan(17);
    for (const list of a.values()) {
      expect(list).toHaveLength(2);
      const [x, y] = list as [Episode, Episode];
      expect(x.startMs).toBeGreaterThanOrEqual(60_000);
      expect(x.endMs).toBeLessThanOrEqual(y.startMs); // one per slot: never overlapping
      expect(y.startMs).toBeLessThan(540_000);
      expect(x.magnitude).toBeGreaterThanOrEqual(2);
      expect(x.magnitude).toBeLessThanOrEqual(4);
    }
  });

  it('adding an entry does not move the episodes of another', () => {
    const step = { kind: 'step', fleets: ['rooms'], field: 'temperature', duration: '1m', magnitude: 3 };
    const before = place([step], 9);
    const after = place([step, { kind: 'dropout', at: '30s', duration: '10s' }], 9);
    for (const [d, list] of before) expect(after.get(d)!.filter((e) => e.kind === 'step')).toEqual(list);
  });

  it('selects by fleet and id pattern (without the device prefix), at a fixed offset', () => {
    const m = place([{ kind: 'dropout', devices: ['th-0*'], at: '2m', duration: '30s' }], 1, { devicePrefix: 'lab-' });
    const ids = [...m.values()].map((l) => l[0]!.id);
    expect(ids).toHaveLength(9);
    expect(ids[0]).toBe('0/lab-th-01/*/1');
    expect([...m.values()].every((l) => l[0]!.startMs === 120_000 && l[0]!.endMs === 150_000)).toBe(true);
    expect(globRegExp('a.b*').test('a.bc')).toBe(true);
    expect(globRegExp('a.b*').test('axbc')).toBe(false);
  });

  it('needs the run length to place episodes anywhere, and reports episodes that cannot fit', () => {
    const fail = (anomalies: unknown[], run: object): string[] => {
      try {
        resolveOptions({ scenario: parseScenario({ run, fleets, anomalies }), seed: 1 });
      } catch (err) {
        if (err instanceof OptionsError) return err.problems;
        throw err;
      }
      throw new Error('expected an OptionsError');
    };
    expect(fail([{ kind: 'dropout', duration: '10s' }], { count: 100 })).toEqual([expect.stringMatching(/^anomalies\[0\]: without at or within, .*needs a duration/)]);
    expect(fail([{ kind: 'dropout', duration: '20m' }], { duration: '10m' })).toEqual([expect.stringMatching(/^anomalies\[0\]\.duration: 1200000 ms does not fit/)]);
    expect(fail([{ kind: 'step', fleets: ['rooms'], field: 'temperature', magnitude: 1, duration: '2m', count: 3, within: ['0s', '5m'] }], { duration: '10m' })).toEqual([
      expect.stringMatching(/^anomalies\[0\]: 3 episodes of 120000 ms would overlap/),
    ]);
    expect(fail([{ kind: 'dropout', duration: '1s', within: ['5m', '1m'] }], { duration: '10m' })).toEqual([expect.stringMatching(/^anomalies\[0\]\.within: \[from, to\] needs from < to/)]);
    // The same placement with at gets no run-length problem.
    expect(placeEpisodes([{ kind: 'dropout', at: 5, duration: 1, count: 1 }], [], [], 1, Infinity, [])).toEqual(new Map());
  });
});

describe('anomalies in the scenario schema', () => {
  it('says per key what each kind needs', () => {
    expect(problems([{ kind: 'spike' }, { kind: 'dropout', field: 'temperature', duration: '1m', magnitude: 3 }, { kind: 'step', field: 'temperature', at: '1m', within: ['1m', '2m'] }])).toEqual([
      'anomalies[0].field: required: the field a spike changes, e.g. field: temperature',
      'anomalies[0].magnitude: required: the offset in the field\'s unit, a number or [min, max]',
      'anomalies[1].field: a dropout silences the whole device; remove field',
      'anomalies[1].magnitude: a dropout has no size; remove magnitude',
      'anomalies[2].duration: required: how long the step lasts, e.g. duration: 2m',
      'anomalies[2].magnitude: required: the offset in the field\'s unit, a number or [min, max]',
      'anomalies[2].at: give at (a fixed start) or within (a random start), not both',
    ]);
    expect(problems([{ kind: 'spike', field: 'temperature', magnitude: 1, duration: '1m', at: 5, count: 2 }, { kind: 'wobble' }, { kind: 'noise', field: 'temperature', duration: '1m', magnitude: [3, 1], colour: 'pink' }])).toEqual([
      'anomalies[0].duration: a spike lasts a number of readings, not a time: use readings (default 1)',
      'anomalies[0].count: 2 episodes cannot share one fixed start; use within: [from, to] for random starts',
      expect.stringMatching(/^anomalies\[1\]\.kind: .*spike.*dropout/),
      'anomalies[2]: unknown key "colour" (check the spelling against device-sim/README.md)',
      'anomalies[2].magnitude: [min, max] needs min <= max (got [3, 1])',
    ]);
    expect(problems([{ kind: 'noise', field: 'temperature', duration: '1m', magnitude: 1, factor: 4 }, { kind: 'step', field: 'temperature', duration: '1m', magnitude: 1, factor: 4 }, { kind: 'noise', field: 'temperature', duration: '1m', factor: 0.5 }])).toEqual([
      'anomalies[0].factor: give magnitude (the sd of added noise) or factor (a variance multiplier), not both',
      'anomalies[1].factor: factor is for noise (a variance multiplier); a step has none',
      expect.stringMatching(/^anomalies\[2\]\.factor: .*>=1/),
    ]);
  });

  it('checks fleets, selections and fields against the devices', () => {
    expect(
      problems([
        { kind: 'dropout', fleets: ['attic'], duration: '1m' },
        { kind: 'dropout', devices: ['pump-*'], duration: '1m' },
        { kind: 'step', field: 'co2', duration: '1m', magnitude: 1 },
        { kind: 'step', fleets: ['doors'], field: 'open', duration: '1m', magnitude: 1 },
      ]),
    ).toEqual([
      'anomalies[0].fleets: no fleet is named "attic"; fleets: rooms, doors',
      'anomalies[1].devices: selects no device; check the fleet names and id patterns ("*" matches any characters)',
      'anomalies[2].field: device th-01 does not send "co2" (it sends temperature, humidity); narrow fleets/devices or pick one of those',
      'anomalies[3].field: "open" is not numeric (toggle); anomalies change numeric values',
    ]);
  });
});

describe('the truth file', () => {
  it('is written line by line as episodes end and reads back checked', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'truth-'));
    try {
      const file = path.join(dir, 'truth.jsonl');
      const w = new TruthWriter(file);
      const rec = { device: 'd', field: 't', kind: 'step' as const, start: 1, end: 2, magnitude: 3, episodeId: 'e1', readings: 2 };
      w.write(rec);
      expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(rec)}\n`); // on disk before close
      w.write({ ...rec, kind: 'dropout', field: null, magnitude: null, episodeId: 'e2' });
      w.close();
      expect(parseTruth(readFileSync(file, 'utf8'), file)).toHaveLength(2);
      expect(() => new TruthWriter(path.join(dir, 'missing', 'x.jsonl'))).toThrow(TruthFileError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseTruth('{"device":"d"}\n', 't.jsonl')).toThrow(/t\.jsonl line 1: field: .*expected \{device, field, kind/);
    expect(() => parseTruth('\n{nope', 't.jsonl')).toThrow(/t\.jsonl line 2 is not JSON/);
  });
});
