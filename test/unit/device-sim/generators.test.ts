import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { SimDevice } from '../../../device-sim/model/device.js';
import { buildGenerator, type Value } from '../../../device-sim/model/generators.js';
import { rngFor } from '../../../device-sim/model/random.js';
import { expandFleets } from '../../../device-sim/scenario/fleet.js';
import { generatorSchema } from '../../../device-sim/scenario/schema-generators.js';
import type { FleetDoc } from '../../../device-sim/scenario/schema.js';

const T0 = Date.UTC(2025, 0, 15, 0, 0, 0); // a Wednesday, midnight UTC
const MIN = 60_000;
const HOUR = 3_600_000;

function gen(doc: unknown, seed = 1, replay: Record<string, Value[]> = {}): (ts: number, values?: Record<string, Value>) => Value {
  const spec = generatorSchema.parse(doc);
  const g = buildGenerator(spec, { rng: rngFor(seed, 'dev', 'f'), deviceHash: 5, replay: (file, col) => replay[`${file}#${col}`] ?? [] });
  return (ts, values = {}) => g.next({ ts, values });
}

const series = (f: (ts: number) => Value, n: number, step = MIN, start = T0): Value[] => Array.from({ length: n }, (_, i) => f(start + i * step));

function devices(fleet: Partial<FleetDoc>, seed: number): SimDevice[] {
  const specs = expandFleets([{ id: 'd-{i:03}', count: 3, start: 1, ...fleet } as FleetDoc], {}, {}, []);
  return specs.map((s) => new SimDevice(s, seed, () => [], undefined));
}

describe('generators', () => {
  it('are deterministic for a seed, for every generator type and any seed', () => {
    const specs: unknown[] = [
      { type: 'sine', mean: 20, amplitude: 2 },
      { type: 'randomWalk', start: 5, step: 0.5 },
      { type: 'step', levels: [1, 2, 3], hold: '5m' },
      { type: 'spike', probability: 0.2, magnitude: 10 },
      { type: 'noise', sd: 2 },
      { type: 'occupancy', capacity: 20 },
      { type: 'toggle', onProbability: 0.3, offProbability: 0.3 },
      { type: 'sum', of: [{ type: 'noise', sd: 1 }, { type: 'randomWalk', step: 1 }], spread: 3, round: 2 },
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...specs), (seed, spec) => {
        expect(series(gen(spec, seed), 50)).toEqual(series(gen(spec, seed), 50));
      }),
      { numRuns: 60 },
    );
  });

  it('differ between seeds', () => {
    expect(series(gen({ type: 'noise', sd: 1 }, 1), 20)).not.toEqual(series(gen({ type: 'noise', sd: 1 }, 2), 20));
  });

  it('sine: daily cycle peaking at peakAt (UTC), from the reading ts', () => {
    const f = gen({ type: 'sine', mean: 20, amplitude: 2, period: '24h', peakAt: '15h' });
    expect(f(T0 + 15 * HOUR)).toBeCloseTo(22);
    expect(f(T0 + 3 * HOUR)).toBeCloseTo(18);
    expect(f(T0 + 9 * HOUR)).toBeCloseTo(20);
  });

  it('randomWalk: moves at most one step per reading and is pulled back towards start', () => {
    const values = series(gen({ type: 'randomWalk', start: 100, step: 1, reversion: 0.1 }), 5_000) as number[];
    for (let i = 1; i < values.length; i++) expect(Math.abs(values[i]! - values[i - 1]!)).toBeLessThanOrEqual(1 + 0.1 * Math.abs(values[i - 1]! - 100) + 1e-9);
    expect(Math.max(...values.map((v) => Math.abs(v - 100)))).toBeLessThan(10);
  });

  it('step: holds a level for `hold`, then picks one of the levels', () => {
    const values = series(gen({ type: 'step', levels: [1, 2, 3], hold: '10m' }), 120);
    for (let i = 0; i < 120; i += 10) expect(new Set(values.slice(i, i + 10)).size).toBe(1);
    expect(new Set(values)).toEqual(new Set([1, 2, 3]));
  });

  it('spike: base plus 50-100% of magnitude at about the given ratio', () => {
    const values = series(gen({ type: 'spike', probability: '10%', magnitude: 10, base: 1 }), 10_000) as number[];
    const spikes = values.filter((v) => v > 1);
    expect(spikes.length).toBeGreaterThan(800);
    expect(spikes.length).toBeLessThan(1200);
    expect(spikes.every((v) => v >= 6 && v <= 11)).toBe(true);
    expect(values.filter((v) => v <= 1).every((v) => v === 1)).toBe(true);
  });

  it('replay: plays a column in order, from a per-device row, looping or holding the last value', () => {
    const rows = { 'f.csv#p': [10, 20, 30] };
    expect(series(gen({ type: 'replay', file: 'f.csv', column: 'p', offsetPerDevice: false }, 1, rows), 7)).toEqual([10, 20, 30, 10, 20, 30, 10]);
    // deviceHash 5 -> starts at row 5 % 3 = 2
    expect(series(gen({ type: 'replay', file: 'f.csv', column: 'p' }, 1, rows), 4)).toEqual([30, 10, 20, 30]);
    expect(series(gen({ type: 'replay', file: 'f.csv', column: 'p', loop: false, offsetPerDevice: false }, 1, rows), 5)).toEqual([10, 20, 30, 30, 30]);
  });

  it('occupancy: whole people, empty at night, busy around the peak, quiet at weekends', () => {
    const f = gen({ type: 'occupancy', capacity: 20, peakAt: '13h' });
    const at = (day: number, hour: number): number[] => series(f, 30, MIN, T0 + day * 24 * HOUR + hour * HOUR) as number[];
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(at(0, 13).every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    expect(avg(at(0, 13))).toBeGreaterThan(12);
    expect(avg(at(0, 2))).toBeLessThan(2);
    expect(avg(at(3, 13))).toBeLessThan(3); // Saturday 2025-01-18
  });

  it('follow: offset + scale × another field, lagging with smoothing', () => {
    const f = gen({ type: 'follow', field: 'occ', scale: 10, offset: 400, smoothing: 0.5 });
    expect(f(T0, { occ: 0 })).toBe(400);
    expect(f(T0, { occ: 10 })).toBe(450);
    expect(f(T0, { occ: 10 })).toBe(475);
  });

  it('counter: cumulative, never decreasing, from the time between readings', () => {
    const f = gen({ type: 'counter', start: 100, perHourFrom: 'power_w', scale: 0.001 });
    expect(f(T0, { power_w: 2000 })).toBe(100);
    expect(f(T0 + HOUR, { power_w: 2000 })).toBeCloseTo(102);
    expect(f(T0 + HOUR + 30 * MIN, { power_w: 1000 })).toBeCloseTo(102.5);
    expect(f(T0, { power_w: 1000 })).toBeCloseTo(102.5); // a clock step backwards adds nothing
    const g = gen({ type: 'counter', perHour: 1 });
    const values = series(g, 100, 7 * MIN) as number[];
    expect(values.every((v, i) => i === 0 || v >= values[i - 1]!)).toBe(true);
  });

  it('toggle: a two-state contact', () => {
    const values = series(gen({ type: 'toggle', onProbability: 0.2, offProbability: 0.5 }), 2_000);
    expect(new Set(values)).toEqual(new Set([true, false]));
    const open = values.filter((v) => v === true).length / values.length;
    expect(open).toBeGreaterThan(0.2); // stationary share 0.2 / (0.2 + 0.5) ≈ 0.29
    expect(open).toBeLessThan(0.38);
  });

  it('modifiers: spread per device, clamp and round', () => {
    const f = gen({ type: 'constant', value: 5.55555, min: 0, max: 5, round: 1 });
    expect(f(T0)).toBe(5);
    const spread = (seed: number): Value => gen({ type: 'constant', value: 10, spread: 2 }, seed)(T0);
    const spreads = [1, 2, 3, 4, 5].map(spread) as number[];
    expect(new Set(spreads).size).toBe(5);
    expect(spreads.every((v) => v >= 8 && v <= 12)).toBe(true);
    expect(gen({ type: 'noise', sd: 5, round: 0 })(T0)).toSatisfy(Number.isInteger);
  });
});

describe('built-in profiles on simulated devices', () => {
  it('emit only their fields, plausible over two days, and repeat for a seed', () => {
    const check: Record<string, (r: Record<string, Value>) => void> = {
      th: (r) => {
        expect(Object.keys(r)).toEqual(['temperature', 'humidity']);
        expect(r.temperature).toBeGreaterThanOrEqual(10);
        expect(r.temperature).toBeLessThanOrEqual(35);
        expect(r.humidity).toBeGreaterThanOrEqual(15);
      },
      co2: (r) => {
        expect(Object.keys(r)).toEqual(['co2']); // occupancy is computed but not sent
        expect(Number.isInteger(r.co2)).toBe(true);
        expect(r.co2).toBeGreaterThanOrEqual(400);
      },
      energy: (r) => expect(Object.keys(r)).toEqual(['power_w', 'energy_kwh']),
      door: (r) => expect(typeof r.open).toBe('boolean'),
      vibration: (r) => expect(r.vibration_mm_s).toBeGreaterThanOrEqual(0),
      pressure: (r) => expect(r.pressure_bar).toBeGreaterThan(3),
    };
    for (const [profile, assert] of Object.entries(check)) {
      const run = (): Array<Record<string, Value>> => {
        const [d] = devices({ profile, count: 1 }, 9);
        return Array.from({ length: 2 * 24 * 12 }, (_, i) => d!.next(T0 + i * 5 * MIN));
      };
      const a = run();
      a.forEach(assert);
      expect(run()).toEqual(a);
    }
  });

  it('CO2 follows occupancy: higher in the afternoon than at night; energy only grows', () => {
    const [co2] = devices({ profile: 'co2', count: 1 }, 4);
    const [meter] = devices({ profile: 'energy', count: 1 }, 4);
    const day = Array.from({ length: 24 * 12 }, (_, i) => T0 + i * 5 * MIN);
    const co2s = day.map((ts) => co2!.next(ts).co2 as number);
    const avg = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(avg(co2s.slice(13 * 12, 15 * 12))).toBeGreaterThan(avg(co2s.slice(1 * 12, 4 * 12)) + 200);
    const kwh = day.map((ts) => meter!.next(ts).energy_kwh as number);
    expect(kwh.every((v, i) => i === 0 || v >= kwh[i - 1]!)).toBe(true);
    expect(kwh[kwh.length - 1]! - kwh[0]!).toBeGreaterThan(5);
  });

  it('numbers readings from seq 1 and restarts under a new boot id after a reboot', () => {
    const [d] = devices({ profile: 'th', count: 1 }, 3);
    const boot0 = d!.boot;
    d!.next(T0);
    d!.next(T0);
    expect(d!.seq).toBe(2);
    d!.reboot();
    expect(d!.seq).toBe(0);
    expect(d!.boot).not.toBe(boot0);
    expect(d!.boot).toMatch(/^[0-9a-f]{8}$/);
    const [again] = devices({ profile: 'th', count: 1 }, 3);
    again!.reboot();
    expect(again!.boot).toBe(d!.boot); // boot ids are deterministic for a seed too
  });

  it('keeps device values independent of fleet size', () => {
    const small = devices({ profile: 'th', count: 3 }, 11);
    const big = expandFleets([{ id: 'd-{i:03}', count: 300, start: 1, profile: 'th' } as FleetDoc], {}, {}, []).map((s) => new SimDevice(s, 11, () => [], undefined));
    const seq = (d: SimDevice): Value[] => Array.from({ length: 20 }, (_, i) => d.next(T0 + i * MIN).temperature as Value);
    expect(seq(big[1]!)).toEqual(seq(small[1]!));
  });

  it('applies clock skew as a fixed offset per device plus drift', () => {
    const [spec] = expandFleets([{ id: 'd-{i}', count: 1, start: 1, profile: 'th' } as FleetDoc], {}, {}, []);
    const d = new SimDevice(spec!, 1, () => [], { maxMs: 30_000, driftPpm: 1000 });
    const offset = d.clock(T0, T0) - T0;
    expect(Math.abs(offset)).toBeLessThanOrEqual(30_000);
    expect(offset).not.toBe(0);
    const later = d.clock(T0 + 1_000_000, T0) - (T0 + 1_000_000);
    expect(Math.abs(later - offset)).toBeLessThanOrEqual(1_000 + 1);
  });
});
