import { describe, expect, it } from 'vitest';
import type { Pending, SendOutcome, Sink, SinkCall } from '../../src/pipeline/sink.js';
import type { StoredRecord } from '../../src/buffer/types.js';
import type { PutEntry, PutEntryResult, RecordPort } from '../../src/sinks/kinesis/port.js';

/**
 * The Sink contract (src/pipeline/sink.ts), for any sink over a scripted record port: what the dispatcher
 * relies on whatever the service behind it.
 */

/** A record port answering from a script; every call's entries are kept. */
export class ScriptedRecordPort implements RecordPort {
  readonly calls: PutEntry[][] = [];
  private readonly script: Array<(entries: readonly PutEntry[], signal: AbortSignal) => Promise<PutEntryResult[]>> = [];

  then(step: (entries: readonly PutEntry[], signal: AbortSignal) => PutEntryResult[] | Promise<PutEntryResult[]>): this {
    this.script.push(async (entries, signal) => step(entries, signal));
    return this;
  }

  async putRecords(_name: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    this.calls.push([...entries]);
    const step = this.script.shift();
    return step ? step(entries, signal) : entries.map(() => ({ ok: true, shardId: 'shardId-000000000000' }));
  }

  close(): void {}
}

export interface SinkUnderTest {
  sink: Sink;
  port: ScriptedRecordPort;
  /** The sink's limits as configured: entries per call and bytes per record. */
  maxEntries: number;
  maxRecordBytes: number;
}

export function record(seq: number, bytes = 100, partitionKey = `dev-${seq % 7}`): StoredRecord {
  return { seq, lane: 'telemetry', partitionKey, data: new Uint8Array(bytes).fill(0x61) } as StoredRecord;
}

export function pending(r: StoredRecord): Pending {
  return { record: r, done: false, sending: false, removed: false, deadLettered: false };
}

const never = new AbortController().signal;

function throttledError(): Error {
  const err = new Error('Rate exceeded (scripted)');
  err.name = 'ProvisionedThroughputExceededException';
  return err;
}

/** Runs the contract against sinks made by `make` (each test gets a fresh one). */
export function sinkContract(name: string, make: () => SinkUnderTest | Promise<SinkUnderTest>): void {
  describe(`Sink contract: ${name}`, () => {
    async function started(): Promise<SinkUnderTest> {
      const s = await make();
      await s.sink.start(never);
      return s;
    }

    it('plans a call within its limits that never skips ahead of a candidate, and sends it within its entry limit', async () => {
      const { sink, port, maxEntries } = await started();
      const candidates = Array.from({ length: maxEntries + 20 }, (_, i) => pending(record(i + 1)));
      const plan = sink.plan(candidates);
      expect(plan.call).not.toBeNull();
      const members = plan.call!.members;
      expect(members.length).toBeGreaterThanOrEqual(maxEntries);
      expect(members.length).toBeLessThanOrEqual(sink.recordsPerCall);
      // The first N candidates, however the sink packs them (aggregation groups a device's readings).
      expect(new Set(members.map((p) => p.record.seq))).toEqual(new Set(candidates.slice(0, members.length).map((p) => p.record.seq)));
      expect(plan.rejected).toEqual([]);
      expect(sink.maxEntriesPerCall).toBe(maxEntries);
      const outcomes = await sink.send(plan.call!, never, never);
      expect(outcomes).toHaveLength(members.length);
      expect(outcomes.every((o) => o === 'delivered')).toBe(true);
      expect(port.calls[0]!.length).toBeLessThanOrEqual(maxEntries);
    });

    it('rejects a record it can never accept, with a reason and a message naming the limit, and plans the rest', async () => {
      const { sink, maxRecordBytes } = await started();
      const big = pending(record(1, maxRecordBytes + 1));
      const small = pending(record(2));
      const plan = sink.plan([big, small]);
      expect(plan.rejected.map((r) => r.pending)).toEqual([big]);
      expect(plan.rejected[0]!.reason).toBe('too_large');
      expect(plan.rejected[0]!.message).toContain(String(maxRecordBytes));
      expect(plan.call!.members).toEqual([small]);
    });

    it('reports every member delivered when the service accepted every entry', async () => {
      const { sink, port } = await started();
      const plan = sink.plan([1, 2, 3].map((s) => pending(record(s))));
      const outcomes = await sink.send(plan.call!, never, never);
      expect(outcomes).toEqual(['delivered', 'delivered', 'delivered']);
      expect(port.calls).toHaveLength(1);
      expect(port.calls[0]!.map((e) => e.partitionKey).sort()).toEqual(['dev-1', 'dev-2', 'dev-3']);
    });

    it('marks exactly the refused entries for retry (a partial failure)', async () => {
      const { sink, port } = await started();
      port.then((entries) => entries.map((_, i) => (i === 1 ? { ok: false, errorCode: 'InternalFailure', errorMessage: 'scripted' } : { ok: true, shardId: 'shardId-000000000000' })));
      const plan = sink.plan([1, 2, 3].map((s) => pending(record(s))));
      const stopping = new AbortController();
      // The backoff after a partial failure is waited out inside send; stopping ends it at once.
      const sent = sink.send(plan.call!, never, stopping.signal);
      stopping.abort();
      expect(await sent).toEqual(['delivered', 'retry', 'delivered']);
    });

    it('never rejects: a whole call that fails is every member to retry, and stopping ends the backoff', async () => {
      const { sink, port } = await started();
      port.then(() => {
        throw throttledError();
      });
      const plan = sink.plan([1, 2].map((s) => pending(record(s))));
      const stopping = new AbortController();
      const sent = sink.send(plan.call!, never, stopping.signal);
      stopping.abort();
      const outcomes: readonly SendOutcome[] = await sent;
      expect(outcomes).toEqual(['retry', 'retry']);
    });

    it('a cut call (the shutdown deadline) ends at once, its members to retry', async () => {
      const { sink, port } = await started();
      port.then((_entries, signal) => new Promise<PutEntryResult[]>((_resolve, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true })));
      const plan = sink.plan([1].map((s) => pending(record(s))));
      const cut = new AbortController();
      const stopping = new AbortController();
      stopping.abort();
      const sent = sink.send(plan.call! as SinkCall, cut.signal, stopping.signal);
      cut.abort();
      expect(await sent).toEqual(['retry']);
    });
  });
}
