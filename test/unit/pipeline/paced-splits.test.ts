import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LevelBuffer } from '../../../src/buffer/level-buffer.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { Metrics } from '../../../src/core/metrics.js';
import { Dispatcher } from '../../../src/pipeline/dispatcher.js';
import type { Pending, SendOutcome, Sink, SinkCall, SinkPlan } from '../../../src/pipeline/sink.js';
import { openTempLevelBuffer } from '../../helpers/broker-on-buffer.js';

// Sink.quickCallMs: while a sink's calls are quick, its free splits are planned as one call (a paced sink,
// whose splits share the shards' allowance: issue "Pi-class efficiency"); and what a paced dispatcher's
// cycles commit. A real LevelDB buffer in a temp dir, a scripted sink.

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

const DEVICES = 8;

interface CallSeen {
  startedAt: number;
  endedAt: number | null;
  members: readonly Pending[];
}

/** Takes every candidate into one call; `respond` decides when each call returns, all delivered. */
class ScriptedSink implements Sink {
  readonly id = 'scripted';
  readonly maxEntriesPerCall = 1_000;
  readonly recordsPerCall = 1_000;
  readonly calls: CallSeen[] = [];
  private delivered = 0;
  private onAll: (() => void) | null = null;

  constructor(
    readonly quickCallMs: number | undefined,
    private readonly respond: (call: CallSeen, index: number) => Promise<void>,
  ) {}

  async start(): Promise<void> {}

  plan(candidates: readonly Pending[]): SinkPlan<SinkCall> {
    return { call: { members: [...candidates] }, rejected: [], pausedForMs: null };
  }

  async send(call: SinkCall): Promise<readonly SendOutcome[]> {
    const seen: CallSeen = { startedAt: performance.now(), endedAt: null, members: call.members };
    this.calls.push(seen);
    await this.respond(seen, this.calls.length - 1);
    seen.endedAt = performance.now();
    this.delivered += call.members.length;
    if (this.onAll && this.delivered >= this.expected) this.onAll();
    return call.members.map(() => 'delivered' as const);
  }

  private expected = Infinity;

  /** Resolves once `n` records were delivered. */
  allDelivered(n: number): Promise<void> {
    this.expected = n;
    return new Promise((resolve) => {
      this.onAll = resolve;
      if (this.delivered >= n) resolve();
    });
  }
}

function reading(deviceId: string, seq: number): PendingReading {
  return { deviceId, topic: `devices/${deviceId}/telemetry`, seq, receivedAt: 1_700_000_000_000 + seq, values: { seq } };
}

async function backlog(buffer: LevelBuffer, perDevice: number): Promise<number> {
  const readings: PendingReading[] = [];
  for (let s = 0; s < perDevice; s++) for (let d = 0; d < DEVICES; d++) readings.push(reading(`dev-${d}`, s));
  await buffer.append(readings);
  return readings.length;
}

async function startDispatcher(buffer: LevelBuffer, sink: Sink): Promise<Dispatcher> {
  const dispatcher = new Dispatcher({
    id: 'kinesis',
    buffer,
    sinks: [sink],
    concurrency: 2,
    maxAgeMs: 0,
    readRetry: { baseDelayMs: 10, maxDelayMs: 100 },
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
  });
  await dispatcher.start();
  closers.push(() => dispatcher.stop(AbortSignal.timeout(5_000)));
  return dispatcher;
}

const splitsOf = (calls: readonly CallSeen[]): Set<number | undefined> => new Set(calls.flatMap((c) => c.members.map((p) => p.split)));

const after = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a sink whose splits share one allowance (Sink.quickCallMs)', () => {
  it('has its free splits planned as one call while its calls are quick', { timeout: 20_000 }, async () => {
    const buffer = await openTempLevelBuffer(closers);
    const total = await backlog(buffer, 5);
    const sink = new ScriptedSink(60_000, async () => undefined);
    await startDispatcher(buffer, sink);
    await sink.allDelivered(total);

    expect(sink.calls.length).toBe(1);
    expect(splitsOf(sink.calls).size, 'the devices fall in both splits').toBe(2);
  });

  it('has each split planned alone, both in flight at once, for a sink that sets none', { timeout: 20_000 }, async () => {
    const buffer = await openTempLevelBuffer(closers);
    const total = await backlog(buffer, 5);
    const sink = new ScriptedSink(undefined, (_call, i) => (i === 0 ? after(200) : Promise.resolve()));
    await startDispatcher(buffer, sink);
    await sink.allDelivered(total);

    expect(sink.calls.length).toBe(2);
    expect(sink.calls.map((c) => splitsOf([c]).size)).toEqual([1, 1]);
    expect(sink.calls[1]!.startedAt).toBeLessThan(sink.calls[0]!.endedAt!);
  });

  it('holds in flight only the splits a call carries records of: the other may go while it is out', { timeout: 20_000 }, async () => {
    const buffer = await openTempLevelBuffer(closers);
    const total = await backlog(buffer, 5);
    // Plans only the first candidate's split and says the rest waits 5 ms (as a held shard would); the first
    // call returns only once a second has started, so marking both splits in flight would hang here.
    let secondStarted!: () => void;
    const second = new Promise<void>((r) => (secondStarted = r));
    const sink = new ScriptedSink(60_000, (_call, i) => {
      if (i === 0) return second;
      secondStarted();
      return Promise.resolve();
    });
    sink.plan = (candidates) => {
      const first = candidates[0]?.split;
      const members = candidates.filter((p) => p.split === first);
      return { call: { members }, rejected: [], pausedForMs: members.length < candidates.length ? 5 : null };
    };
    await startDispatcher(buffer, sink);
    await sink.allDelivered(total);

    expect(sink.calls.length).toBe(2);
    expect(sink.calls.map((c) => splitsOf([c]).size)).toEqual([1, 1]);
    expect(splitsOf(sink.calls).size).toBe(2);
    expect(sink.calls[1]!.startedAt).toBeLessThan(sink.calls[0]!.endedAt!);
  });

  it('goes back to a call per split, in flight at once, when its calls are slow', { timeout: 20_000 }, async () => {
    const buffer = await openTempLevelBuffer(closers);
    // Quick means within 20 ms; the first call takes 300, the others return at once.
    const sink = new ScriptedSink(20, (_call, i) => (i === 0 ? after(300) : i === 1 ? after(200) : Promise.resolve()));
    await startDispatcher(buffer, sink);
    const first = await backlog(buffer, 5);
    await sink.allDelivered(first);
    expect(sink.calls.length, 'no call was slow yet: one call for both splits').toBe(1);
    expect(splitsOf(sink.calls).size).toBe(2);

    const second = await backlog(buffer, 5);
    await sink.allDelivered(first + second);
    const later = sink.calls.slice(1);
    expect(later.length).toBe(2);
    expect(later.map((c) => splitsOf([c]).size)).toEqual([1, 1]);
    expect(later[1]!.startedAt).toBeLessThan(later[0]!.endedAt!);
  });
});

describe('what the dispatcher commits', () => {
  // The windows are looked through for handled records only after a record was handled (issue "Pi-class
  // efficiency"): a dead letter is handled as much as a delivery.
  it('moves the cursor past records the plan dead-lettered, with nothing delivered after them', { timeout: 20_000 }, async () => {
    const buffer = await openTempLevelBuffer(closers);
    const total = await backlog(buffer, 5);
    let rejectedAll!: () => void;
    const allRejected = new Promise<void>((r) => (rejectedAll = r));
    let rejected = 0;
    const sink = new ScriptedSink(undefined, async () => undefined);
    sink.plan = (candidates) => {
      rejected += candidates.length;
      if (rejected >= total) rejectedAll();
      return { call: null, rejected: candidates.map((pending) => ({ pending, reason: 'invalid', message: 'refused by the test sink' })), pausedForMs: null };
    };
    const dispatcher = await startDispatcher(buffer, sink);
    await allRejected;
    await dispatcher.stop(AbortSignal.timeout(5_000));

    expect(sink.calls).toHaveLength(0);
    expect(buffer.cursor('kinesis', 'telemetry')).toBe(buffer.head('telemetry'));
  });
});
