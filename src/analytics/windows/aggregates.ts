import { percentileOf } from './aggregate-names.js';

/**
 * What a window keeps per field: enough to compute every aggregate incrementally (count, sum, min, max, mean,
 * first, last, rate; stddev through Welford's update), plus the values themselves when a percentile is asked
 * for. Plain JSON, so a window's state is checkpointed as it is.
 */
export interface FieldAcc {
  n: number;
  sum: number;
  min: number;
  max: number;
  /** Welford's running mean and sum of squared deviations (numerically stable, one pass). */
  wMean: number;
  m2: number;
  firstT: number;
  /** Arrival index (per key) of the first and last value, breaking ties between equal timestamps. */
  firstA: number;
  firstV: number;
  lastT: number;
  lastA: number;
  lastV: number;
  /** Kept values for percentiles (absent when none is configured); a uniform sample once `n` passes the bound. */
  kept?: number[];
}

/** Where a window's readings came from, per device: its own sequence numbers and event-time range. */
export interface SourceRange {
  firstSeq?: number;
  lastSeq?: number;
  firstTs: number;
  lastTs: number;
}

export interface WindowAcc {
  /** Readings folded in. */
  count: number;
  minT: number;
  maxT: number;
  fields: Record<string, FieldAcc>;
  sources: Record<string, SourceRange>;
}

export interface FoldInput {
  t: number;
  /** Arrival index within the key: equal timestamps keep arrival order for first and last. */
  a: number;
  deviceId: string;
  seq?: number;
  values: Readonly<Record<string, number>>;
}

export function emptyAcc(): WindowAcc {
  return { count: 0, minT: Infinity, maxT: -Infinity, fields: {}, sources: {} };
}

/**
 * Folds one reading in. First and last are by event time, not arrival (ties: the earlier arrival is first,
 * the later one last), so out-of-order arrival gives the same result as sorted input.
 */
export function fold(acc: WindowAcc, input: FoldInput, keepValues: number, seed: number): void {
  acc.count += 1;
  if (input.t < acc.minT) acc.minT = input.t;
  if (input.t > acc.maxT) acc.maxT = input.t;
  const src = acc.sources[input.deviceId];
  if (!src) acc.sources[input.deviceId] = { ...(input.seq !== undefined ? { firstSeq: input.seq, lastSeq: input.seq } : {}), firstTs: input.t, lastTs: input.t };
  else {
    if (input.t < src.firstTs) src.firstTs = input.t;
    if (input.t > src.lastTs) src.lastTs = input.t;
    if (input.seq !== undefined) {
      src.firstSeq = src.firstSeq === undefined ? input.seq : Math.min(src.firstSeq, input.seq);
      src.lastSeq = src.lastSeq === undefined ? input.seq : Math.max(src.lastSeq, input.seq);
    }
  }
  for (const field in input.values) {
    const v = input.values[field]!;
    const f = acc.fields[field];
    if (!f) {
      acc.fields[field] = { n: 1, sum: v, min: v, max: v, wMean: v, m2: 0, firstT: input.t, firstA: input.a, firstV: v, lastT: input.t, lastA: input.a, lastV: v, ...(keepValues > 0 ? { kept: [v] } : {}) };
      continue;
    }
    f.n += 1;
    f.sum += v;
    if (v < f.min) f.min = v;
    if (v > f.max) f.max = v;
    const delta = v - f.wMean;
    f.wMean += delta / f.n;
    f.m2 += delta * (v - f.wMean);
    if (input.t < f.firstT || (input.t === f.firstT && input.a < f.firstA)) (f.firstT = input.t), (f.firstA = input.a), (f.firstV = v);
    if (input.t > f.lastT || (input.t === f.lastT && input.a > f.lastA)) (f.lastT = input.t), (f.lastA = input.a), (f.lastV = v);
    if (f.kept) keep(f.kept, v, f.n, keepValues, seed);
  }
}

/**
 * Reservoir sampling (Vitter's algorithm R) with a deterministic choice per position: the n-th value replaces
 * slot hash(seed, n) mod n when that falls inside the reservoir. Deterministic, so a restored window samples
 * exactly as the uninterrupted one would have.
 */
function keep(kept: number[], v: number, n: number, bound: number, seed: number): void {
  if (kept.length < bound) {
    kept.push(v);
    return;
  }
  const slot = mix(seed, n) % n;
  if (slot < bound) kept[slot] = v;
}

function mix(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Merges `b` into `a` (two sessions a reading joined): Chan et al.'s pairwise update for the Welford terms.
 * Kept values are concatenated; past the bound an evenly spaced subset stays, and percentiles say approximate.
 */
export function mergeAcc(a: WindowAcc, b: WindowAcc, keepValues: number): void {
  a.count += b.count;
  a.minT = Math.min(a.minT, b.minT);
  a.maxT = Math.max(a.maxT, b.maxT);
  for (const [id, s] of Object.entries(b.sources)) {
    const r = a.sources[id];
    if (!r) {
      a.sources[id] = { ...s };
      continue;
    }
    r.firstTs = Math.min(r.firstTs, s.firstTs);
    r.lastTs = Math.max(r.lastTs, s.lastTs);
    if (s.firstSeq !== undefined) r.firstSeq = r.firstSeq === undefined ? s.firstSeq : Math.min(r.firstSeq, s.firstSeq);
    if (s.lastSeq !== undefined) r.lastSeq = r.lastSeq === undefined ? s.lastSeq : Math.max(r.lastSeq, s.lastSeq);
  }
  for (const [field, g] of Object.entries(b.fields)) {
    const f = a.fields[field];
    if (!f) {
      a.fields[field] = { ...g, ...(g.kept ? { kept: [...g.kept] } : {}) };
      continue;
    }
    const n = f.n + g.n;
    const delta = g.wMean - f.wMean;
    f.m2 += g.m2 + (delta * delta * f.n * g.n) / n;
    f.wMean += (delta * g.n) / n;
    f.n = n;
    f.sum += g.sum;
    f.min = Math.min(f.min, g.min);
    f.max = Math.max(f.max, g.max);
    if (g.firstT < f.firstT || (g.firstT === f.firstT && g.firstA < f.firstA)) (f.firstT = g.firstT), (f.firstA = g.firstA), (f.firstV = g.firstV);
    if (g.lastT > f.lastT || (g.lastT === f.lastT && g.lastA > f.lastA)) (f.lastT = g.lastT), (f.lastA = g.lastA), (f.lastV = g.lastV);
    if (f.kept && g.kept) {
      const all = f.kept.concat(g.kept);
      f.kept = all.length <= keepValues ? all : Array.from({ length: keepValues }, (_, i) => all[Math.floor((i * all.length) / keepValues)]!);
    }
  }
}

/** A stable 32-bit seed for a window, from its key and start. */
export function windowSeed(key: string, start: number): number {
  let h = 0x811c9dc5 ^ (start | 0) ^ Math.floor(start / 0x100000000);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The aggregate values of a window, `<field>_<aggregate>`. An aggregate that has no value is left out rather
 * than invented: rate over a single instant (lastTs = firstTs), any aggregate of a field the window never saw.
 * stddev is the population standard deviation (0 for one value); percentiles interpolate linearly between
 * closest ranks (numpy's default), over all values or over the sample when the window held more than the bound.
 */
export function results(acc: WindowAcc, fields: readonly string[], aggregates: readonly string[]): { values: Record<string, number>; approximate: boolean } {
  const values: Record<string, number> = {};
  let approximate = false;
  for (const field of fields) {
    const f = acc.fields[field];
    if (!f) continue;
    let sorted: number[] | undefined;
    for (const agg of aggregates) {
      const v = aggregate(f, agg, () => (sorted ??= [...(f.kept ?? [])].sort((a, b) => a - b)));
      if (v !== undefined && Number.isFinite(v)) values[`${field}_${agg}`] = v;
    }
    if (f.kept && f.n > f.kept.length && aggregates.some((a) => percentileOf(a) !== undefined)) approximate = true;
  }
  return { values, approximate };
}

function aggregate(f: FieldAcc, agg: string, sorted: () => number[]): number | undefined {
  switch (agg) {
    case 'count':
      return f.n;
    case 'sum':
      return f.sum;
    case 'min':
      return f.min;
    case 'max':
      return f.max;
    case 'mean':
      return f.sum / f.n;
    case 'stddev':
      return Math.sqrt(Math.max(0, f.m2) / f.n);
    case 'first':
      return f.firstV;
    case 'last':
      return f.lastV;
    case 'rate':
      return f.lastT === f.firstT ? undefined : ((f.lastV - f.firstV) * 1000) / (f.lastT - f.firstT);
    default: {
      const p = percentileOf(agg);
      return p === undefined ? undefined : percentile(sorted(), p);
    }
  }
}

/** Linear interpolation between closest ranks over sorted values (numpy `linear`, Hyndman–Fan type 7). */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}
