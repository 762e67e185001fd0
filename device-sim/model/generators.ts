/**
 * Field generators: one small stateful object per (device, field) that turns
 * the reading's timestamp (and the fields computed before it) into a value.
 * Time-based shapes (sine, occupancy, step, counter) use the reading's own ts,
 * so replaying the same timestamps with the same seed gives the same values.
 */
import type { GeneratorSpec } from '../scenario/schema-generators.js';
import { ms, ratio } from '../scenario/units.js';
import { gaussian, symmetric, type Rng } from './random.js';

export type Value = number | boolean | string;

export interface GenContext {
  /** Device time of the reading (epoch ms). */
  ts: number;
  /** Fields of this reading computed so far (dependencies come first). */
  values: Record<string, Value>;
}

export interface Generator {
  next(ctx: GenContext): Value;
}

/** Looks up the rows of a replay column; the loader has read and checked the files. */
export type ReplayLookup = (file: string, column: string) => readonly Value[];

export interface BuildContext {
  rng: Rng;
  /** Stable per-device number, used to start replays at different rows. */
  deviceHash: number;
  replay: ReplayLookup;
}

const TWO_PI = 2 * Math.PI;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Fields another field reads, including inside sums: they must be computed first. */
export function dependenciesOf(spec: GeneratorSpec): string[] {
  switch (spec.type) {
    case 'follow':
      return [spec.field];
    case 'counter':
      return spec.perHourFrom ? [spec.perHourFrom] : [];
    case 'sum':
      return spec.of.flatMap(dependenciesOf);
    default:
      return [];
  }
}

function num(v: Value | undefined): number {
  return typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v ?? 0) || 0;
}

/** Office hours: 0 at night, rising to 1 around peakAt (UTC); weekends nearly empty unless allowed. */
function occupancyWave(ts: number, peakMs: number, weekends: boolean): number {
  const dayFraction = ((((ts - peakMs) % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
  const wave = Math.max(0, Math.cos(TWO_PI * dayFraction) * 1.6 - 0.6);
  const day = new Date(ts).getUTCDay();
  return !weekends && (day === 0 || day === 6) ? wave * 0.05 : wave;
}

function base(spec: GeneratorSpec, ctx: BuildContext): Generator {
  const { rng } = ctx;
  switch (spec.type) {
    case 'constant':
      return { next: () => spec.value };
    case 'sine': {
      const period = ms(spec.period);
      const peak = ms(spec.peakAt);
      return {
        next: ({ ts }) => spec.mean + spec.amplitude * Math.cos((TWO_PI * ((((ts - peak) % period) + period) % period)) / period),
      };
    }
    case 'randomWalk': {
      let offset = 0;
      return {
        next: () => {
          offset = offset * (1 - spec.reversion) + symmetric(rng) * spec.step;
          return spec.start + offset;
        },
      };
    }
    case 'step': {
      const hold = ms(spec.hold);
      let level = 0;
      let nextChange = -Infinity;
      return {
        next: ({ ts }) => {
          if (ts >= nextChange) {
            level = spec.levels[Math.floor(rng() * spec.levels.length)] as number;
            nextChange = ts + hold;
          }
          return level;
        },
      };
    }
    case 'spike': {
      const p = ratio(spec.probability);
      return { next: () => spec.base + (rng() < p ? spec.magnitude * (0.5 + 0.5 * rng()) : 0) };
    }
    case 'noise':
      return { next: () => spec.mean + spec.sd * gaussian(rng) };
    case 'replay': {
      const rows = ctx.replay(spec.file, spec.column);
      let i = spec.offsetPerDevice ? ctx.deviceHash % rows.length : 0;
      return {
        next: () => {
          const v = rows[i] as Value;
          i = i + 1 < rows.length ? i + 1 : spec.loop ? 0 : i;
          return v;
        },
      };
    }
    case 'occupancy': {
      const peak = ms(spec.peakAt);
      let wander = 0;
      return {
        next: ({ ts }) => {
          wander = wander * 0.9 + symmetric(rng) * spec.capacity * 0.05;
          const people = spec.capacity * occupancyWave(ts, peak, spec.weekends) + wander;
          return Math.max(0, Math.min(Math.round(spec.capacity * 1.2), Math.round(people)));
        },
      };
    }
    case 'follow': {
      let state: number | undefined;
      return {
        next: ({ values }) => {
          const target = spec.offset + spec.scale * num(values[spec.field]);
          state = state === undefined ? target : state + (target - state) * (1 - spec.smoothing);
          return state;
        },
      };
    }
    case 'counter': {
      let value = spec.start;
      let lastTs: number | undefined;
      return {
        next: ({ ts, values }) => {
          if (lastTs !== undefined && ts > lastTs) {
            const perHour = spec.perHour ?? num(values[spec.perHourFrom as string]) * spec.scale;
            value += (Math.max(0, perHour) * (ts - lastTs)) / HOUR_MS;
          }
          lastTs = lastTs === undefined ? ts : Math.max(lastTs, ts);
          return value;
        },
      };
    }
    case 'toggle': {
      const on = ratio(spec.onProbability);
      const off = ratio(spec.offProbability);
      let state = spec.start;
      return {
        next: () => {
          state = state ? rng() >= off : rng() < on;
          return state;
        },
      };
    }
    case 'sum': {
      const parts = spec.of.map((s) => buildGenerator(s, ctx));
      return {
        next: (c) => {
          let total = 0;
          for (const p of parts) total += num(p.next(c));
          return total;
        },
      };
    }
  }
}

/** A generator with its modifiers (spread, min/max, round) applied to numeric values. */
export function buildGenerator(spec: GeneratorSpec, ctx: BuildContext): Generator {
  const g = base(spec, ctx);
  if (spec.type === 'toggle') return g;
  const spread = spec.spread ? symmetric(ctx.rng) * spec.spread : 0;
  const { min, max, round } = spec;
  if (!spread && min === undefined && max === undefined && round === undefined) return g;
  const scale = round === undefined ? 0 : 10 ** round;
  return {
    next: (c) => {
      const raw = g.next(c);
      if (typeof raw !== 'number') return raw;
      let v = raw + spread;
      if (min !== undefined && v < min) v = min;
      if (max !== undefined && v > max) v = max;
      return scale ? Math.round(v * scale) / scale : v;
    },
  };
}
