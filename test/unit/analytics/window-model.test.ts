import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentile } from '../../../src/analytics/windows/aggregates.js';
import type { ProducedRecord, StateOp } from '../../../src/pipeline/transform.js';
import { ctxAt, makeWindow, producedOf, reading } from './window-helpers.js';

/**
 * The streaming windows against a batch recomputation over the same readings in the same arrival order.
 * The batch side states the semantics directly: a key's watermark after reading j is W_j = max(t_1..t_j) − L;
 * a time window [s, e) holds exactly the readings j with s <= t_j < e that arrived while W_j < e; a reading
 * none of whose windows is open is late (for sliding windows: whose own window is closed). Sessions are gap clusters of the sorted timestamps (readings are
 * generated with disorder <= L there, where that definition and the streaming one must agree); count windows
 * are runs of arrival indexes.
 */
interface Arrival {
  device: string;
  t: number;
  v: number;
  seq: number;
  arrival: number;
}

const AGGREGATES = ['count', 'sum', 'min', 'max', 'mean', 'stddev', 'first', 'last', 'rate', 'p50', 'p95'];

function batchValues(items: Arrival[]): Record<string, number> {
  const vs = items.map((i) => i.v);
  const n = vs.length;
  const sum = vs.reduce((a, b) => a + b, 0);
  const mean = sum / n;
  const byTime = [...items].sort((a, b) => a.t - b.t || a.arrival - b.arrival);
  const first = byTime[0]!;
  const last = byTime[n - 1]!;
  const sorted = [...vs].sort((a, b) => a - b);
  const out: Record<string, number> = {
    x_count: n,
    x_sum: sum,
    x_min: sorted[0]!,
    x_max: sorted[n - 1]!,
    x_mean: mean,
    x_stddev: Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / n),
    x_first: first.v,
    x_last: last.v,
    x_p50: percentile(sorted, 50)!,
    x_p95: percentile(sorted, 95)!,
  };
  if (last.t !== first.t) out.x_rate = ((last.v - first.v) * 1000) / (last.t - first.t);
  return out;
}

type Shape = { kind: 'tumbling'; size: number } | { kind: 'hopping'; size: number; hop: number } | { kind: 'sliding'; size: number } | { kind: 'session'; gap: number } | { kind: 'count'; size: number; slide: number };

/** Window [start, end) → its readings, per key, plus the readings that were late. */
function batch(shape: Shape, lateness: number, arrivals: Arrival[]): { windows: Map<string, Arrival[]>; late: number } {
  const windows = new Map<string, Arrival[]>();
  const add = (device: string, start: number, end: number, a: Arrival) => {
    const id = `${device}|${start}|${end}`;
    windows.set(id, [...(windows.get(id) ?? []), a]);
  };
  let late = 0;
  for (const device of new Set(arrivals.map((a) => a.device))) {
    const mine = arrivals.filter((a) => a.device === device);
    if (shape.kind === 'count') {
      mine.forEach((a, i) => {
        for (let k = 0; k * shape.slide <= i; k++) if (i < k * shape.slide + shape.size) add(device, k * shape.slide, k * shape.slide + shape.size, a);
      });
      continue;
    }
    if (shape.kind === 'session') {
      let cluster: Arrival[] = [];
      const sorted = [...mine].sort((a, b) => a.t - b.t || a.arrival - b.arrival);
      const clusters: Arrival[][] = [];
      for (const a of sorted) {
        if (cluster.length && a.t - cluster[cluster.length - 1]!.t >= shape.gap) (clusters.push(cluster), (cluster = []));
        cluster.push(a);
      }
      if (cluster.length) clusters.push(cluster);
      for (const c of clusters) for (const a of c) add(device, c[0]!.t, c[c.length - 1]!.t + shape.gap, a);
      continue;
    }
    let max = -Infinity;
    const watermarks = mine.map((a) => ((max = Math.max(max, a.t)), max - lateness));
    if (shape.kind === 'sliding') {
      const anchors = new Set<number>();
      const taken = (j: number) => mine[j]!.t + 1 > watermarks[j]!; // its own window (t − size, t] still open
      mine.forEach((a, j) => (taken(j) ? anchors.add(a.t) : late++));
      for (const anchor of anchors)
        mine.forEach((a, j) => {
          if (taken(j) && a.t > anchor - shape.size && a.t <= anchor && watermarks[j]! < anchor + 1) add(device, anchor - shape.size + 1, anchor + 1, a);
        });
      continue;
    }
    const hop = shape.kind === 'hopping' ? shape.hop : shape.size;
    mine.forEach((a, j) => {
      let taken = false;
      for (let s = Math.floor(a.t / hop) * hop; s + shape.size > a.t; s -= hop)
        if (s + shape.size > watermarks[j]!) (add(device, s, s + shape.size, a), (taken = true));
      if (!taken) late++;
    });
  }
  return { windows, late };
}

function configOf(shape: Shape, lateness: number): Record<string, unknown> {
  const base = { fields: ['x'], aggregates: AGGREGATES, allowedLatenessMs: lateness, maxOpenWindows: 1_000_000 };
  switch (shape.kind) {
    case 'tumbling':
    case 'sliding':
      return { ...base, kind: shape.kind, sizeMs: shape.size };
    case 'hopping':
      return { ...base, kind: 'hopping', sizeMs: shape.size, hopMs: shape.hop };
    case 'session':
      return { ...base, kind: 'session', gapMs: shape.gap };
    case 'count':
      return { ...base, kind: 'count', count: shape.size, slide: shape.slide };
  }
}

const shapes: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({ kind: fc.constant('tumbling' as const), size: fc.constantFrom(10, 25, 100) }),
  fc.constantFrom(25, 50).chain((hop) => fc.record({ kind: fc.constant('hopping' as const), size: fc.constantFrom(hop, hop * 2, hop * 4), hop: fc.constant(hop) })),
  fc.record({ kind: fc.constant('sliding' as const), size: fc.constantFrom(1, 15, 40) }),
  fc.record({ kind: fc.constant('session' as const), gap: fc.constantFrom(5, 20) }),
  fc.constantFrom(1, 2, 3).chain((slide) => fc.record({ kind: fc.constant('count' as const), size: fc.constantFrom(slide, slide * 2, 4), slide: fc.constant(slide) })),
);

/**
 * Arrival streams: several devices, event times moving forward with backward jitter up to `disorder`, on a
 * grid of 1 ms or 5 ms (the coarse grid makes watermarks land exactly on window ends, the boundary cases).
 */
const streams = (maxDisorder: fc.Arbitrary<number>) =>
  fc.tuple(maxDisorder, fc.constantFrom(1, 5), fc.array(fc.record({ device: fc.constantFrom('a', 'b', 'c'), step: fc.integer({ min: 0, max: 12 }), back: fc.nat({ max: 1000 }), v: fc.integer({ min: -50, max: 50 }) }), { maxLength: 120 })).map(([disorder, grid, steps]) => {
    let clock = 1_000;
    const seqs: Record<string, number> = {};
    return steps.map((s, arrival): Arrival => {
      clock += s.step * grid;
      seqs[s.device] = (seqs[s.device] ?? 0) + 1;
      const back = disorder === 0 ? 0 : s.back % (disorder + 1);
      return { device: s.device, t: clock - back + (back % grid), v: s.v, seq: seqs[s.device]!, arrival };
    });
  });

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe('windows against a batch recomputation', () => {
  it('every aggregate equals the batch result over the readings the semantics assign to its window, and late readings are counted', () => {
    const scenario = shapes.chain((shape) => {
      const lateness = fc.constantFrom(0, 5, 30);
      return lateness.chain((L) => fc.tuple(fc.constant(shape), fc.constant(L), streams(shape.kind === 'session' ? fc.constant(L) : fc.constantFrom(0, 10, 60))));
    });
    fc.assert(
      fc.property(scenario, ([shape, lateness, arrivals]) => {
        const t = makeWindow(configOf(shape, lateness));
        const ctx = ctxAt(5_000);
        const produced: ProducedRecord[] = [];
        let late = 0;
        for (const a of arrivals) {
          const result = t.process(reading(a.device, a.t, { x: a.v }, { seq: a.seq, receivedAt: 5_000 }), ctx);
          if (result.fate === 'filter') (expect(result.reason).toBe('late'), late++);
          else expect(result.fate).toBe('consume');
          produced.push(...producedOf(result).filter((p) => p.kind === 'aggregate'));
        }
        produced.push(...t.flush(ctx));
        const expected = batch(shape, lateness, arrivals);
        expect(late).toBe(expected.late);
        const got = new Map<string, ProducedRecord>();
        for (const p of produced) {
          const r = p.reading.result as { window: { start: number; end: number; index?: number }; count: number; sources: { deviceId: string; firstSeq: number; lastSeq: number }[] };
          const [start, end] = shape.kind === 'count' ? [r.window.index! * shape.slide, r.window.index! * shape.slide + shape.size] : [r.window.start, r.window.end];
          const id = `${p.reading.deviceId}|${start}|${end}`;
          expect(got.has(id), `window ${id} emitted twice`).toBe(false);
          got.set(id, p);
        }
        expect([...got.keys()].sort()).toEqual([...expected.windows.keys()].sort());
        for (const [id, items] of expected.windows) {
          const record = got.get(id)!;
          const r = record.reading.result as { count: number; sources: { deviceId: string; firstSeq: number; lastSeq: number; firstTs: number; lastTs: number }[] };
          expect(r.count).toBe(items.length);
          expect(r.sources).toEqual([{ deviceId: items[0]!.device, firstSeq: Math.min(...items.map((i) => i.seq)), lastSeq: Math.max(...items.map((i) => i.seq)), firstTs: Math.min(...items.map((i) => i.t)), lastTs: Math.max(...items.map((i) => i.t)) }]);
          const want = batchValues(items);
          const have = record.reading.values as Record<string, number>;
          expect(Object.keys(have).sort()).toEqual(Object.keys(want).sort());
          for (const k of Object.keys(want)) expect(close(have[k]!, want[k]!), `${id} ${k}: ${have[k]} vs ${want[k]}`).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('checkpoint and restore', () => {
  type Op = { op: 'read'; device: string; step: number; back: number; v: number } | { op: 'tick'; ms: number } | { op: 'crash' };
  const ops = fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.record({ op: fc.constant('read' as const), device: fc.constantFrom('a', 'b', 'c'), step: fc.integer({ min: 0, max: 15 }), back: fc.nat({ max: 40 }), v: fc.integer({ min: -9, max: 9 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 200 }) }) },
      { weight: 2, arbitrary: fc.constant({ op: 'crash' as const }) },
    ),
    { maxLength: 100 },
  );

  it('a transform restored from its checkpoints at any point produces exactly what an uninterrupted one does', async () => {
    await fc.assert(
      fc.asyncProperty(shapes, fc.constantFrom(0, 10), fc.integer({ min: 1, max: 8 }), fc.constantFrom('event', 'processing'), fc.constantFrom(1, 2, 100), ops, async (shape, lateness, maxOpen, time, maxKeys, script) => {
        const config = { ...configOf(shape, lateness), maxOpenWindows: maxOpen, maxValuesPerWindow: 3, idleTimeoutMs: 100, time, maxKeys };
        const steady = makeWindow(config);
        let crashing = makeWindow(config);
        const stored = new Map<string, string>();
        const apply = (state: readonly StateOp[]) => {
          for (const op of state) op.type === 'put' ? stored.set(op.key, op.value) : stored.delete(op.key);
        };
        const a = ctxAt(1_000);
        const b = ctxAt(1_000);
        let t = 1_000;
        let consumed = 0;
        let counted = 0;
        const tally = (records: readonly ProducedRecord[]) => {
          for (const r of records) if (r.kind === 'aggregate') counted += (r.reading.result as { count: number }).count;
          return records;
        };
        for (const op of script) {
          if (op.op === 'crash') {
            // The store hands state back in key order (LevelDB's), not in the order it was written.
            crashing = makeWindow(config);
            crashing.restore(new Map([...stored].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));
          } else if (op.op === 'tick') {
            await a.clock.advance(op.ms);
            await b.clock.advance(op.ms);
            expect(crashing.onTime(b.clock.now(), b)).toEqual(tally(steady.onTime(a.clock.now(), a)));
            apply(crashing.checkpoint());
          } else {
            t += op.step;
            const r = reading(op.device, t - op.back, { x: op.v }, { receivedAt: a.clock.now() });
            const result = steady.process(r, a);
            if (result.fate === 'consume') consumed++;
            tally(result.produced ?? []);
            expect(crashing.process(r, b)).toEqual(result);
            apply(crashing.checkpoint());
          }
          expect(crashing.openWindows).toBe(steady.openWindows);
        }
        expect(crashing.flush(b)).toEqual(tally(steady.flush(a)));
        // No reading is consumed and then missing from every aggregate (bounds, idle closes and stops included):
        // where each reading belongs to exactly one window, the counts add up to the readings consumed.
        const oneWindowEach = shape.kind === 'tumbling' || shape.kind === 'session' || (shape.kind === 'count' && shape.slide === shape.size);
        if (oneWindowEach) expect(counted).toBe(consumed);
        else expect(counted).toBeGreaterThanOrEqual(consumed);
      }),
      { numRuns: 300 },
    );
  });
});
