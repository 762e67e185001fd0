import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conservationGap, sumReasons } from '../../src/buffer/conservation.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import { CrashableStore } from '../helpers/crashable-store.js';
import { LANES, type DurableBuffer, type Lane, type PendingReading, type StoredRecord } from '../../src/buffer/types.js';

/**
 * Model-based test of the durable buffer: random sequences of what the gateway does to it (appends, sink
 * deliveries and failed calls, dead letters, crashes that lose un-acknowledged writes, restarts), run against
 * a plain model and checked after every step. Both implementations run the same sequences.
 */

const GATEWAY_ID = 'gw';
const SINK_ID = 'kinesis';
const DEAD_LETTER_REASONS = ['invalid_json', 'no_values'] as const;

type Op =
  | { kind: 'append'; lane: Lane; n: number }
  /** As the sink: read past the cursor, commit the first k (optionally dead-lettering the first as too large). */
  | { kind: 'deliver'; lane: Lane; max: number; k: number; deadLetterFirst: boolean }
  /** A failed call: read (past the cursor, or past the `from`-th buffered record), commit nothing. */
  | { kind: 'fail'; lane: Lane; max: number; from: number }
  | { kind: 'deadLetter'; reason: (typeof DEAD_LETTER_REASONS)[number] }
  /** Appends (and optionally one cursor commit) submitted but not awaited, then a crash; then a restart. */
  | { kind: 'crash'; appends: Array<{ lane: Lane; n: number }>; deliver: Lane | undefined; ticks: number }
  | { kind: 'reopen' };

const laneArb: fc.Arbitrary<Lane> = fc.oneof({ weight: 2, arbitrary: fc.constant('telemetry' as const) }, { weight: 1, arbitrary: fc.constant('alarm' as const) });
const countArb = fc.integer({ min: 1, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), lane: laneArb, n: countArb }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), lane: laneArb, max: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 0, max: 6 }), deadLetterFirst: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), lane: laneArb, max: fc.integer({ min: 1, max: 6 }), from: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deadLetter' as const), reason: fc.constantFrom(...DEAD_LETTER_REASONS) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('crash' as const),
      appends: fc.array(fc.record({ lane: laneArb, n: countArb }), { maxLength: 3 }),
      deliver: fc.option(laneArb, { nil: undefined }),
      ticks: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** The buffer under test, replaced by a new instance on restart. */
interface Subject {
  q: DurableBuffer;
  /** An orderly restart: close, then open again over the same data. */
  reopen(): Promise<void>;
  /** What a crash leaves (only what was committed), then open again over it. */
  crash(): Promise<void>;
  dispose(): Promise<void>;
}

async function memorySubject(): Promise<Subject> {
  // A crash leaves the old buffer hanging on a dead store; the new one opens on what that store had committed.
  let store = new CrashableStore();
  const make = (): DurableBuffer => createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID] }, store.asBufferStore());
  const s: Subject = {
    q: make(),
    async reopen() {
      await s.q.close();
      s.q = make();
      await s.q.open();
    },
    async crash() {
      store = await store.crash();
      s.q = make();
      await s.q.open();
    },
    dispose: () => s.q.close(),
  };
  await s.q.open();
  return s;
}

async function levelSubject(): Promise<Subject> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-model-'));
  const make = async (): Promise<LevelBuffer> => {
    const q = new LevelBuffer({ dir, gatewayId: GATEWAY_ID, durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, sinkIds: [SINK_ID] });
    await q.open();
    return q;
  };
  // close() writes what was already submitted, so this "crash" keeps the in-flight writes; the model accepts
  // either outcome for those and only insists on what was acknowledged. (A real SIGKILL: test/integration/crash.test.ts.)
  const restart = async (): Promise<void> => {
    await s.q.close();
    s.q = await make();
  };
  const s: Subject = {
    q: await make(),
    reopen: restart,
    crash: restart,
    async dispose() {
      await s.q.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return s;
}

/** What the buffer should hold and have counted. Readings are identified by a tag in their values. */
class Model {
  readonly lanes: Record<Lane, number[]> = { alarm: [], telemetry: [] };
  readonly laneOf = new Map<number, Lane>();
  /** Every reading ever submitted, acknowledged or not. */
  readonly submitted = new Set<number>();
  /** Readings the buffer stored: acknowledged, or found after a crash. */
  readonly keptTags = new Set<number>();
  readonly handled = new Set<number>();
  readonly seqOf = new Map<number, number>();
  readonly tagOfSeq = new Map<number, number>();
  received = 0;
  delivered = 0;
  readonly deadLettered: Record<string, number> = {};
  private nextTag = 1;

  readings(lane: Lane, n: number): PendingReading[] {
    return Array.from({ length: n }, () => {
      const tag = this.nextTag++;
      this.submitted.add(tag);
      this.laneOf.set(tag, lane);
      const deviceId = `dev-${tag % 3}`;
      return { deviceId, topic: `devices/${deviceId}/telemetry`, receivedAt: 1_700_000_000_000 + tag, values: { tag }, ...(lane === 'alarm' ? { lane } : {}) };
    });
  }

  stored(lane: Lane, readings: readonly PendingReading[]): void {
    for (const r of readings) {
      this.lanes[lane].push(r.values.tag as number);
      this.keptTags.add(r.values.tag as number);
    }
    this.received += readings.length;
  }

  /** The first `k` of a lane were handled: delivered, except those moved to the dead letters. */
  handle(lane: Lane, k: number, deadLetteredTags: readonly number[] = []): void {
    for (const tag of this.lanes[lane].splice(0, k)) {
      this.handled.add(tag);
      if (deadLetteredTags.includes(tag)) this.deadLettered.too_large = (this.deadLettered.too_large ?? 0) + 1;
      else this.delivered += 1;
    }
  }

  /** Checks one record a reader was given: appended, in its lane, one sequence per reading and never reused. */
  observe(r: StoredRecord): number {
    const body = JSON.parse(r.data.toString('utf8')) as { id: string; values: { tag: number } };
    const tag = body.values.tag;
    expect(this.submitted.has(tag), `read a record that was never appended: ${body.id}`).toBe(true);
    expect(this.handled.has(tag), `read a record that was already handled: tag ${tag}`).toBe(false);
    expect(r.lane).toBe(this.laneOf.get(tag));
    expect(body.id).toBe(`${GATEWAY_ID}-${r.seq}`);
    const known = this.seqOf.get(tag);
    if (known !== undefined) expect(r.seq, `tag ${tag} changed its sequence`).toBe(known);
    const holder = this.tagOfSeq.get(r.seq);
    if (holder !== undefined) expect(holder, `sequence ${r.seq} reused`).toBe(tag);
    this.seqOf.set(tag, r.seq);
    this.tagOfSeq.set(r.seq, tag);
    return tag;
  }
}

const tags = (records: readonly StoredRecord[], m: Model): number[] => records.map((r) => m.observe(r));
const nonZero = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).filter(([, n]) => n !== 0));

function expectAscending(records: readonly StoredRecord[]): void {
  for (let i = 1; i < records.length; i++) expect(records[i]!.seq).toBeGreaterThan(records[i - 1]!.seq);
}

/** After every step: the contents equal the model's, and so do the ledger's numbers, which balance. */
async function checkAll(s: Subject, m: Model): Promise<void> {
  let bytes = 0;
  let maxSeq = 0;
  for (const lane of LANES) {
    // From the start, not the cursor: what the sink handled must be gone, not just skipped.
    const records = await s.q.read(lane, 0, 100_000);
    expectAscending(records);
    expect(tags(records, m)).toEqual(m.lanes[lane]);
    for (const r of records) {
      bytes += r.bytes;
      maxSeq = Math.max(maxSeq, r.seq);
    }
  }
  const stats = s.q.stats();
  expect({ received: stats.received, delivered: stats.delivered, buffered: stats.buffered, bufferedBytes: stats.bufferedBytes, deadLettered: nonZero(stats.deadLettered) }).toEqual({
    received: m.received,
    delivered: m.delivered,
    buffered: m.lanes.alarm.length + m.lanes.telemetry.length,
    bufferedBytes: bytes,
    deadLettered: m.deadLettered,
  });
  expect(sumReasons(stats.dropped) + stats.filtered).toBe(0);
  expect(stats.deadLettersStored).toBe(sumReasons(m.deadLettered));
  expect(conservationGap(stats)).toBe(0);
  expect(stats.lastSeq).toBeGreaterThanOrEqual(maxSeq);
}

async function deliver(s: Subject, m: Model, op: Extract<Op, { kind: 'deliver' }>): Promise<void> {
  const { q } = s;
  const records = await q.read(op.lane, q.cursor(SINK_ID, op.lane), op.max);
  expectAscending(records);
  expect(tags(records, m)).toEqual(m.lanes[op.lane].slice(0, op.max));
  const prefix = records.slice(0, op.k);
  if (prefix.length === 0) return;
  const dead = op.deadLetterFirst ? [prefix[0]!] : [];
  for (const r of dead) await q.deadLetterRecord(r, 'too_large', 'scripted: too large', SINK_ID);
  await q.commitCursor(SINK_ID, op.lane, prefix[prefix.length - 1]!.seq, { delivered: prefix.slice(dead.length), deadLettered: dead });
  m.handle(op.lane, prefix.length, dead.map((r) => m.tagOfSeq.get(r.seq)!));
}

async function crash(s: Subject, m: Model, op: Extract<Op, { kind: 'crash' }>): Promise<void> {
  const acked = (p: Promise<unknown>): (() => boolean) => {
    let ok = false;
    p.then(
      () => (ok = true),
      () => undefined,
    );
    return () => ok;
  };
  // A cursor commit in flight, as the sink writes its cursor in the background.
  let cursorWrite: { lane: Lane; through: number; before: number; k: number; done: () => boolean } | null = null;
  if (op.deliver) {
    const lane = op.deliver;
    const records = await s.q.read(lane, s.q.cursor(SINK_ID, lane), 2);
    expect(tags(records, m)).toEqual(m.lanes[lane].slice(0, 2));
    if (records.length > 0) {
      const through = records[records.length - 1]!.seq;
      const before = s.q.cursor(SINK_ID, lane);
      cursorWrite = { lane, through, before, k: records.length, done: acked(s.q.commitCursor(SINK_ID, lane, through, { delivered: records, deadLettered: [] })) };
    }
  }
  const appends = op.appends.map(({ lane, n }) => {
    const readings = m.readings(lane, n);
    return { lane, readings, done: acked(s.q.append(readings)) };
  });
  for (let i = 0; i < op.ticks; i++) await new Promise((resolve) => setImmediate(resolve));
  // A reader may see only committed records: whatever it is given now must survive the crash.
  const seen = (await Promise.all(LANES.map((lane) => s.q.read(lane, s.q.cursor(SINK_ID, lane), 100_000)))).flat().map((r) => m.observe(r));
  await s.crash();

  if (cursorWrite) {
    const now = s.q.cursor(SINK_ID, cursorWrite.lane);
    if (cursorWrite.done()) expect(now, 'an acknowledged cursor commit was lost').toBe(cursorWrite.through);
    expect([cursorWrite.before, cursorWrite.through]).toContain(now);
    if (now === cursorWrite.through) m.handle(cursorWrite.lane, cursorWrite.k);
  }
  // Which un-acknowledged appends survived: each whole or not at all, acknowledged ones always, in submit order.
  const present = new Set<number>();
  for (const lane of LANES) for (const r of await s.q.read(lane, s.q.cursor(SINK_ID, lane), 100_000)) present.add(m.observe(r));
  for (const tag of seen) expect(present.has(tag) || m.handled.has(tag), `reading ${tag} was readable before the crash and lost in it`).toBe(true);
  let lost = false;
  for (const a of appends) {
    const kept = a.readings.map((r) => present.has(r.values.tag as number));
    expect(new Set(kept).size, 'an append survived in part').toBe(1);
    if (a.done()) expect(kept[0], 'an acknowledged append was lost').toBe(true);
    if (kept[0]) {
      expect(lost, 'a later append survived an earlier one that was lost').toBe(false);
      m.stored(a.lane, a.readings);
    } else {
      lost = true;
    }
  }
}

async function step(s: Subject, m: Model, op: Op): Promise<void> {
  switch (op.kind) {
    case 'append': {
      const readings = m.readings(op.lane, op.n);
      expect(await s.q.append(readings)).toBe('stored');
      m.stored(op.lane, readings);
      return;
    }
    case 'deliver':
      return deliver(s, m, op);
    case 'fail': {
      const buffered = m.lanes[op.lane];
      const from = Math.min(op.from, buffered.length);
      // checkAll has seen every buffered record, so the model knows their sequences.
      const after = from === 0 ? s.q.cursor(SINK_ID, op.lane) : m.seqOf.get(buffered[from - 1]!)!;
      const records = await s.q.read(op.lane, after, op.max);
      expectAscending(records);
      expect(tags(records, m)).toEqual(buffered.slice(from, from + op.max));
      return;
    }
    case 'deadLetter':
      await s.q.appendDeadLetter({ reason: op.reason, message: 'scripted', source: 'mqtt', origin: 'client-1', topic: 'devices/x/t', receivedAt: 1_700_000_000_000 });
      m.received += 1;
      m.deadLettered[op.reason] = (m.deadLettered[op.reason] ?? 0) + 1;
      return;
    case 'crash':
      return crash(s, m, op);
    case 'reopen':
      return s.reopen();
  }
}

async function run(makeSubject: () => Promise<Subject>, ops: readonly Op[]): Promise<void> {
  const s = await makeSubject();
  const m = new Model();
  try {
    for (const op of ops) {
      await step(s, m, op);
      await checkAll(s, m);
    }
    // No acknowledged reading is lost: each one was delivered or dead-lettered, or is still readable now.
    await s.reopen();
    await checkAll(s, m);
    const readable = new Set([...m.lanes.alarm, ...m.lanes.telemetry]);
    for (const tag of m.keptTags) expect(m.handled.has(tag) || readable.has(tag), `reading ${tag} was lost`).toBe(true);
  } finally {
    await s.dispose();
  }
}

describe('durable buffer against a model', () => {
  it('LevelBuffer on memory-level: acknowledged readings survive crashes, sequences are never reused, the ledger matches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), (ops) => run(memorySubject, ops)),
      { numRuns: 300 },
    );
  });

  it('LevelBuffer on a real LevelDB: acknowledged readings survive restarts, sequences are never reused, the ledger matches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), (ops) => run(levelSubject, ops)),
      { numRuns: 50 },
    );
  });
});
