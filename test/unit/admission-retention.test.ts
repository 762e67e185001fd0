import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import type { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { PendingReading } from '../../src/buffer/types.js';
import { systemClock } from '../../src/core/clock.js';
import { Metrics } from '../../src/core/metrics.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { pass, type StateOp, type Transform } from '../../src/pipeline/transform.js';
import { TransformChain } from '../../src/pipeline/transform-chain.js';
import type { RawMessage } from '../../src/normalize/reading.js';
import { holdableStore } from '../helpers/holdable-store.js';

/**
 * What waits for a commit is the records and the devices' callbacks, not the messages and readings they came
 * from: held until the commit, each of those is copied by a young-generation collection and often promoted
 * (issue "Pi-class efficiency"; bench/RESULTS.md has the collections it saves in a burst). Each test holds a
 * commit open, collects garbage, and looks through weak references at what the way in still keeps.
 */
let collect!: () => void;
beforeAll(() => {
  // Exposes V8's gc() to contexts made from here on (the test's own was made without it).
  v8.setFlagsFromString('--expose-gc');
  collect = vm.runInNewContext('gc') as () => void;
});

const COUNT = 50;
const decode = { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 };
const logger = pino({ level: 'silent' });

let buffer: LevelBuffer | null = null;
let releaseHeld: (() => void) | null = null;
afterEach(async () => {
  // A failed assertion leaves the commit held: released first, or the close would wait for it.
  releaseHeld?.();
  releaseHeld = null;
  await buffer?.close();
  buffer = null;
});

async function heldBuffer(): Promise<{ buffer: LevelBuffer; held: () => Promise<void>; release: () => void }> {
  const store = holdableStore();
  buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'] }, store.store);
  await buffer.open();
  const release = store.hold();
  releaseHeld = release;
  return { buffer, held: store.held, release };
}

/** Collects garbage a few times, each in a later turn (a weak reference keeps its target to the end of the turn). */
async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await nextTurn();
    collect();
  }
}

const alive = (refs: ReadonlyArray<WeakRef<object>>): number => refs.filter((r) => r.deref() !== undefined).length;

// The messages and readings are made in functions of their own, so no frame of the test refers to them.
function admitMessages(admission: Admission, settled: unknown[]): Array<WeakRef<object>> {
  const refs: Array<WeakRef<object>> = [];
  for (let i = 0; i < COUNT; i++) {
    const raw: RawMessage = { source: 'mqtt', topic: `devices/d${i}/t`, payload: Buffer.from(JSON.stringify({ values: { i, text: 'x'.repeat(40) } })), origin: `c${i}`, receivedAt: 1_700_000_000_000 + i };
    refs.push(new WeakRef(raw), new WeakRef(raw.payload));
    admission.admitThen(raw, (err) => settled.push(err));
  }
  return refs;
}

/** Builds readings and hands them to `submit` (the admission or the buffer), keeping only weak references. */
function submitReadings(submit: (readings: PendingReading[]) => Promise<unknown>, settled: Array<Promise<unknown>>): Array<WeakRef<object>> {
  const readings: PendingReading[] = [];
  for (let i = 0; i < COUNT; i++) readings.push({ deviceId: `d${i}`, topic: `devices/d${i}/t`, receivedAt: 1_700_000_000_000 + i, values: { i, text: 'x'.repeat(40) } });
  settled.push(submit(readings));
  return readings.flatMap((r) => [new WeakRef(r), new WeakRef(r.values)]);
}

/** While the commit is held: nothing of `refs` is left after collecting garbage. */
async function expectCollectedWhileHeld(held: () => Promise<void>, refs: ReadonlyArray<WeakRef<object>>): Promise<void> {
  await held();
  await collectGarbage();
  expect(alive(refs)).toBe(0);
}

/** Once the commit goes ahead: every submission stored, all of it buffered. */
async function expectStoredOnRelease(buffer: LevelBuffer, release: () => void, settled: Array<Promise<unknown>>): Promise<void> {
  release();
  await expect(Promise.all(settled)).resolves.toEqual(['stored']);
  expect(buffer.stats().buffered).toBe(COUNT);
}

/** Stateful, and passes every reading on: counts them, checkpointing the count with each batch. */
class CountingPassThrough implements Transform {
  readonly id = 'count#0';
  private count = 0;
  process(reading: PendingReading) {
    this.count += 1;
    return pass(reading);
  }
  checkpoint(): StateOp[] {
    return [{ type: 'put', key: 'count', value: String(this.count) }];
  }
  restore(state: ReadonlyMap<string, string>): void {
    this.count = Number(state.get('count') ?? 0);
  }
}

describe('the way in lets go of messages and readings before their commit', () => {
  it('the broker path (admitThen): the messages and payloads, while the devices still wait for their acks', async () => {
    const { buffer, held, release } = await heldBuffer();
    const admission = new Admission(buffer, decode, new Metrics(), logger);
    const settled: unknown[] = [];
    const refs = admitMessages(admission, settled);
    await expectCollectedWhileHeld(held, refs);
    expect(settled).toEqual([]);
    release();
    await buffer.settled();
    await expect.poll(() => settled.length).toBe(COUNT);
    expect(settled.every((err) => err === null)).toBe(true);
    expect((await buffer.read('telemetry', 0, 1_000)).length).toBe(COUNT);
  });

  it('parsed readings (admitReadings, as serial and Modbus admit them)', async () => {
    const { buffer, held, release } = await heldBuffer();
    const admission = new Admission(buffer, decode, new Metrics(), logger);
    const settled: Array<Promise<unknown>> = [];
    const refs = submitReadings((readings) => admission.admitReadings('serial', readings), settled);
    await expectCollectedWhileHeld(held, refs);
    await expectStoredOnRelease(buffer, release, settled);
  });

  it('through a stateful chain, which takes turns until each batch is submitted', async () => {
    const { buffer, held, release } = await heldBuffer();
    const chain = new TransformChain([new CountingPassThrough()], { clock: systemClock, logger, metrics: new Metrics() });
    const admission = new Admission(buffer, decode, new Metrics(), logger, undefined, chain);
    const settled: Array<Promise<unknown>> = [];
    const refs = submitReadings((readings) => admission.admitReadings('serial', readings), settled);
    await expectCollectedWhileHeld(held, refs);
    await expectStoredOnRelease(buffer, release, settled);
    expect((await buffer.readState()).get('count#0!count')).toBe(String(COUNT));
  });

  it('the buffer: an append keeps the records it encoded, not the readings', async () => {
    const { buffer, held, release } = await heldBuffer();
    const settled: Array<Promise<unknown>> = [];
    const refs = submitReadings((readings) => buffer.append(readings), settled);
    await expectCollectedWhileHeld(held, refs);
    await expectStoredOnRelease(buffer, release, settled);
    const records = await buffer.read('telemetry', 0, 1_000);
    expect(records.map((r) => (JSON.parse(r.data.toString('utf8')) as { values: { i: number } }).values.i)).toEqual(Array.from({ length: COUNT }, (_, i) => i));
  });
});
