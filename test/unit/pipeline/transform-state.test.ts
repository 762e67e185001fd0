import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import { consume, pass, type StateOp, type Transform, type TransformResult } from '../../../src/pipeline/transform.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import type { BufferStore } from '../../../src/buffer/open-store.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { CrashableStore } from '../../helpers/crashable-store.js';

const silent = pino({ level: 'silent' });
const decode = { matchTopic: () => null, maxPayloadBytes: 1_024 } as never;

/** Keeps, per device, how many readings it saw and the sum of their `i`; consumes them or passes them on. */
class CountPerDevice implements Transform {
  readonly id: string = 'count#0';
  readonly counts = new Map<string, { n: number; sum: number }>();
  private readonly changed = new Set<string>();
  constructor(private readonly fate: 'consume' | 'pass') {}

  process(reading: PendingReading): TransformResult {
    const c = this.counts.get(reading.deviceId) ?? { n: 0, sum: 0 };
    this.counts.set(reading.deviceId, { n: c.n + 1, sum: c.sum + Number(reading.values.i) });
    this.changed.add(reading.deviceId);
    return this.fate === 'consume' ? consume() : pass(reading);
  }

  checkpoint(): StateOp[] {
    const ops: StateOp[] = [...this.changed].map((d) => ({ type: 'put', key: d, value: JSON.stringify(this.counts.get(d)) }));
    this.changed.clear();
    return ops;
  }

  restore(state: ReadonlyMap<string, string>): void {
    this.counts.clear();
    this.changed.clear();
    for (const [d, v] of state) this.counts.set(d, JSON.parse(v) as { n: number; sum: number });
  }

  total(): { n: number; sum: number } {
    let n = 0;
    let sum = 0;
    for (const c of this.counts.values()) (n += c.n), (sum += c.sum);
    return { n, sum };
  }
}

function reading(i: number): PendingReading {
  const deviceId = `dev-${i % 5}`;
  return { deviceId, topic: `devices/${deviceId}/telemetry`, receivedAt: 1_700_000_000_000 + i, values: { i } };
}

function admissionOn(store: BufferStore, t: CountPerDevice, opts: { maxBytes?: number; whenFull?: 'block'; commitTimeoutMs?: number; commitIntervalMs?: number } = {}) {
  const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], logger: silent, ...opts }, store);
  const chain = new TransformChain([t], { clock: new ManualClock(0), logger: silent, metrics: new Metrics() });
  return { buffer, admission: new Admission(buffer, decode, new Metrics(), silent, undefined, chain) };
}

describe('transform state persisted with the readings it accounts for', () => {
  it('after a crash, the restored state holds exactly the committed readings and every acknowledged one', async () => {
    const store = new CrashableStore();
    const before = new CountPerDevice('consume');
    const { buffer, admission } = admissionOn(store.asBufferStore(), before, { commitIntervalMs: 2 });
    await buffer.open();
    const acked: number[] = [];
    let crashed: Promise<CrashableStore> | null = null;
    const batches = Array.from({ length: 60 }, (_, b) => [reading(3 * b), reading(3 * b + 1), reading(3 * b + 2)]);
    const admissions = batches.map((batch) =>
      admission.admitReadings('serial', batch).then(() => {
        for (const r of batch) acked.push(Number(r.values.i));
        // Crash part way, with later batches in flight (their devices were never acknowledged).
        if (acked.length >= 60 && !crashed) crashed = store.crash();
      }),
    );
    await Promise.race([Promise.all(admissions), new Promise((r) => setTimeout(r, 2_000))]);
    const survivor = await crashed!;
    expect(acked.length).toBeGreaterThanOrEqual(60);

    const after = new CountPerDevice('consume');
    const reopened = admissionOn(survivor.asBufferStore(), after);
    await reopened.buffer.open();
    const { restored } = await reopened.admission.restoreTransformState();
    expect(restored).toBeGreaterThan(0);
    const stats = reopened.buffer.stats();
    const total = after.total();
    // The state and the ledger were written in one batch: they agree on what was consumed.
    expect(total.n).toBe(stats.consumed);
    expect(stats.received).toBe(stats.consumed);
    // Nothing acknowledged is missing from the state; whole batches only.
    expect(total.n).toBeGreaterThanOrEqual(acked.length);
    expect(total.n % 3).toBe(0);
    const ackedSum = acked.reduce((a, b) => a + b, 0);
    expect(total.sum).toBeGreaterThanOrEqual(ackedSum);
    await reopened.buffer.close();
  });

  it('a clean reopen restores the state exactly as it was in memory', async () => {
    const store = new CrashableStore();
    const before = new CountPerDevice('pass');
    const { buffer, admission } = admissionOn(store.asBufferStore(), before);
    await buffer.open();
    await Promise.all(Array.from({ length: 40 }, (_, b) => admission.admitReadings('serial', [reading(2 * b), reading(2 * b + 1)])));
    await buffer.close();
    const after = new CountPerDevice('pass');
    const reopened = admissionOn(store.asBufferStore(), after);
    await reopened.buffer.open();
    await reopened.admission.restoreTransformState();
    expect(after.counts).toEqual(before.counts);
    expect(after.total()).toEqual({ n: 80, sum: (79 * 80) / 2 });
    await reopened.buffer.close();
  });

  it('an append that fails before it is written leaves the in-memory state as the disk has it', async () => {
    const store = new CrashableStore();
    const t = new CountPerDevice('pass');
    // The first batch fills the budget; the second waits for space, none is freed, and it fails.
    const { buffer, admission } = admissionOn(store.asBufferStore(), t, { maxBytes: 400, whenFull: 'block', commitTimeoutMs: 50 });
    await buffer.open();
    await admission.admitReadings('serial', [reading(0), reading(1), reading(2), reading(3)]);
    await expect(admission.admitReadings('serial', [reading(4), reading(5)])).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' });
    // The failed batch's readings were not acknowledged and will be sent again: the state must not hold them.
    expect(t.total()).toEqual({ n: 4, sum: 6 });
    // And the state still works: the resent batch is counted once it fits.
    await buffer.close();
    const again = new CountPerDevice('pass');
    const reopened = admissionOn(store.asBufferStore(), again, { maxBytes: 100_000 });
    await reopened.buffer.open();
    await reopened.admission.restoreTransformState();
    await reopened.admission.admitReadings('serial', [reading(4), reading(5)]);
    expect(again.total()).toEqual({ n: 6, sum: 15 });
    await reopened.buffer.close();
  });

  it('state of a transform no longer configured is reported, not handed to another', async () => {
    const store = new CrashableStore();
    const { buffer, admission } = admissionOn(store.asBufferStore(), new CountPerDevice('consume'));
    await buffer.open();
    await admission.admitReadings('serial', [reading(0), reading(1)]);
    await buffer.close();
    class Other extends CountPerDevice {
      override readonly id = 'other#0';
    }
    const other = new Other('consume');
    const reopened = admissionOn(store.asBufferStore(), other);
    await reopened.buffer.open();
    expect(await reopened.admission.restoreTransformState()).toEqual({ restored: 0, orphaned: 2 });
    expect(other.total()).toEqual({ n: 0, sum: 0 });
    await reopened.buffer.close();
  });
});
