import type { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTidegateError } from '../../src/core/errors.js';
import { conservationGap, sumReasons } from '../../src/buffer/conservation.js';
import { encodeRecordJson, encodeStoredValue, recordKey, storedBytes } from '../../src/buffer/record-codec.js';
import { LANES, type DeadLetter, type DurableBuffer, type Lane, type PendingReading, type BufferStats, type StoredRecord, type WhenFull } from '../../src/buffer/types.js';

/**
 * One behavioural contract for every DurableBuffer: the LevelDB buffer and the in-memory one must be
 * indistinguishable to a sink. Each implementation's test file calls `describeDurableBuffer` with a factory.
 */

export const GATEWAY_ID = 'gw';
export const SINK_ID = 'kinesis';

export interface BufferOptions {
  maxBytes?: number;
  whenFull?: WhenFull;
  commitTimeoutMs?: number;
}

export interface BufferUnderTest {
  /** The current instance, open. */
  buffer: DurableBuffer;
  /**
   * Ends the current instance the way a restart does (LevelDB: close, then a new instance on the same
   * directory; memory: crash()) and returns the new one, open; `buffer` is updated too.
   */
  reopen(): Promise<DurableBuffer>;
  /** Closes whatever is open and removes the test's files. */
  dispose(): Promise<void>;
}

/** A buffer under test that restarts as a closed one does: `make` opens a new instance on the same store. */
export async function reopenable(make: () => Promise<LevelBuffer>, removeFiles: () => Promise<void> = async () => undefined): Promise<BufferUnderTest> {
  let current = await make();
  const h: BufferUnderTest = {
    buffer: current,
    async reopen() {
      await current.close();
      current = await make();
      h.buffer = current;
      return current;
    },
    async dispose() {
      await current.close();
      await removeFiles();
    },
  };
  return h;
}

export type BufferFactory = (opts: BufferOptions) => Promise<BufferUnderTest>;

export function reading(i: number, lane?: Lane): PendingReading {
  const deviceId = `dev-${i % 3}`;
  return { deviceId, topic: `devices/${deviceId}/telemetry`, seq: i, receivedAt: 1_700_000_000_000 + i, values: { i }, ...(lane ? { lane } : {}) };
}

/** What a reading stored under `seq` counts against the budget: key plus stored value, as on disk. */
export function recordBytes(lane: Lane, seq: number, r: PendingReading): number {
  return storedBytes(recordKey(lane, seq), encodeStoredValue(r.deviceId, encodeRecordJson(GATEWAY_ID, seq, r)));
}

/** received = delivered + buffered + deadLettered + dropped + filtered, and no count is negative. */
export function expectBalanced(stats: BufferStats): void {
  expect(conservationGap(stats), `ledger does not balance: ${JSON.stringify(stats)}`).toBe(0);
  for (const n of [stats.received, stats.delivered, stats.buffered, stats.bufferedBytes, stats.filtered, ...Object.values(stats.deadLettered), ...Object.values(stats.dropped)]) {
    expect(n, `negative count in ${JSON.stringify(stats)}`).toBeGreaterThanOrEqual(0);
  }
  if (stats.buffered === 0) expect(stats.bufferedBytes).toBe(0);
}

export async function readAll(q: DurableBuffer, lane: Lane, afterSeq = 0): Promise<StoredRecord[]> {
  return q.read(lane, afterSeq, 100_000);
}

/** The ledger's `buffered` and `bufferedBytes` are exactly what a reader can see (single sink). */
export async function expectLedgerMatchesContents(q: DurableBuffer): Promise<void> {
  const all = (await Promise.all(LANES.map((lane) => readAll(q, lane)))).flat();
  const stats = q.stats();
  expect({ buffered: all.length, bufferedBytes: all.reduce((n, r) => n + r.bytes, 0) }).toEqual({ buffered: stats.buffered, bufferedBytes: stats.bufferedBytes });
  expectBalanced(stats);
}

/** As the sink does: reads past the cursor and commits the first `n` (all by default) as delivered. */
export async function deliver(q: DurableBuffer, lane: Lane, n = Infinity): Promise<StoredRecord[]> {
  const records = (await readAll(q, lane, q.cursor(SINK_ID, lane))).slice(0, n);
  if (records.length > 0) await q.commitCursor(SINK_ID, lane, records[records.length - 1]!.seq, { delivered: records, deadLettered: [] });
  return records;
}

const tagOf = (r: StoredRecord): number => (JSON.parse(r.data.toString('utf8')) as { values: { i: number } }).values.i;

function deadLetter(reason: string): DeadLetter {
  return { reason, message: `scripted ${reason}`, source: 'mqtt', origin: 'client-1', topic: 'devices/x/t', receivedAt: 1_700_000_000_000, payloadBase64: Buffer.from('{').toString('base64') };
}

/** A promise's state without waiting for it. */
function track<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  const promise = p.finally(() => {
    settled = true;
  });
  promise.catch(() => undefined);
  return { settled: () => settled, promise };
}

const UNIT = recordBytes('telemetry', 1, reading(1));
const WAIT = { timeout: 1_000, interval: 5 };

export function describeDurableBuffer(name: string, factory: BufferFactory): void {
  describe(`DurableBuffer contract: ${name}`, () => {
    const open: BufferUnderTest[] = [];
    afterEach(async () => {
      while (open.length > 0) await open.pop()!.dispose();
    });
    async function make(opts: BufferOptions = {}): Promise<BufferUnderTest> {
      const h = await factory(opts);
      open.push(h);
      return h;
    }

    describe('sequences', () => {
      it('hands out strictly increasing sequences across lanes and batches, each in its record id', async () => {
        const h = await make();
        const q = h.buffer;
        await q.append([reading(1)]);
        await q.append([reading(2, 'alarm')]);
        await q.append([reading(3), reading(4), reading(5)]);
        await q.append([reading(6, 'alarm')]);
        expectBalanced(q.stats());
        const telemetry = await readAll(q, 'telemetry');
        const alarm = await readAll(q, 'alarm');
        const byTag = new Map([...telemetry, ...alarm].map((r) => [tagOf(r), r]));
        const seqs = [1, 2, 3, 4, 5, 6].map((i) => byTag.get(i)!.seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
        expect(q.stats().lastSeq).toBe(seqs[5]);
        for (const r of [...telemetry, ...alarm]) {
          const body = JSON.parse(r.data.toString('utf8')) as { id: string; deviceId: string };
          expect(body.id).toBe(`${GATEWAY_ID}-${r.seq}`);
          expect(r.partitionKey).toBe(body.deviceId);
          expect(r.bytes).toBe(recordBytes(r.lane, r.seq, reading(tagOf(r))));
        }
        expect(telemetry.every((r) => r.lane === 'telemetry') && alarm.every((r) => r.lane === 'alarm')).toBe(true);
      });

      it('never reuses a sequence after a restart, even when every record was delivered and removed', async () => {
        const h = await make();
        await h.buffer.append([reading(1)]);
        await h.buffer.append([reading(2, 'alarm')]);
        await h.buffer.append([reading(3)]);
        await deliver(h.buffer, 'telemetry');
        await deliver(h.buffer, 'alarm');
        const before = h.buffer.stats().lastSeq;
        expectBalanced(h.buffer.stats());
        const q = await h.reopen();
        expect(q.stats().lastSeq).toBeGreaterThanOrEqual(before);
        expect(await readAll(q, 'telemetry')).toEqual([]);
        await q.append([reading(4)]);
        await q.append([reading(5, 'alarm')]);
        const [t] = await readAll(q, 'telemetry');
        const [a] = await readAll(q, 'alarm');
        expect(t!.seq).toBeGreaterThan(before);
        expect(a!.seq).toBeGreaterThan(t!.seq);
        expect(q.stats()).toMatchObject({ received: 5, delivered: 3, buffered: 2 });
        expectBalanced(q.stats());
      });
    });

    describe('read', () => {
      it('returns the records of one lane past a position, oldest first, at most max', async () => {
        const h = await make();
        const q = h.buffer;
        for (let i = 1; i <= 6; i++) await q.append([reading(i, i % 3 === 0 ? 'alarm' : 'telemetry')]);
        const telemetry = await readAll(q, 'telemetry');
        expect(telemetry.map(tagOf)).toEqual([1, 2, 4, 5]);
        expect((await readAll(q, 'alarm')).map(tagOf)).toEqual([3, 6]);
        expect((await q.read('telemetry', 0, 2)).map(tagOf)).toEqual([1, 2]);
        expect((await q.read('telemetry', telemetry[1]!.seq, 1)).map(tagOf)).toEqual([4]);
        expect((await q.read('telemetry', telemetry[1]!.seq, 10)).map(tagOf)).toEqual([4, 5]);
        expect(await q.read('telemetry', telemetry[3]!.seq, 10)).toEqual([]);
      });

      it('shows a record only once its append is committed', async () => {
        const h = await make();
        const q = h.buffer;
        const appended = q.append([reading(1)]);
        expect(await q.read('telemetry', 0, 10)).toEqual([]);
        expect(await appended).toBe('stored');
        expect((await q.read('telemetry', 0, 10)).map(tagOf)).toEqual([1]);
        expectBalanced(q.stats());
      });

      it('makes every record of a batch that mixes lanes readable in its own lane', async () => {
        const h = await make();
        const q = h.buffer;
        await q.append([reading(1, 'telemetry'), reading(2, 'alarm')]);
        expect((await readAll(q, 'alarm')).map(tagOf)).toEqual([2]);
        expect((await readAll(q, 'telemetry')).map(tagOf)).toEqual([1]);
        await expectLedgerMatchesContents(q);
      });
    });

    describe('waitForRecords', () => {
      it('resolves at once when a lane already has a record past the position', async () => {
        const h = await make();
        await h.buffer.append([reading(1, 'alarm')]);
        await expect(h.buffer.waitForRecords({ alarm: 0, telemetry: 0 }, new AbortController().signal)).resolves.toBeUndefined();
      });

      it('resolves when a later append to either lane is committed', async () => {
        const h = await make();
        const q = h.buffer;
        await q.append([reading(1)]);
        const [first] = await readAll(q, 'telemetry');
        const waiting = track(q.waitForRecords({ alarm: 0, telemetry: first!.seq }, new AbortController().signal));
        await q.read('telemetry', 0, 1); // a round trip through the buffer: nothing new, still waiting
        expect(waiting.settled()).toBe(false);
        await q.append([reading(2, 'alarm')]);
        await expect(waiting.promise).resolves.toBeUndefined();
      });

      it('rejects with ERR_ABORTED when its signal aborts, and at once when it already has', async () => {
        const h = await make();
        const abort = new AbortController();
        const waiting = h.buffer.waitForRecords({ alarm: 0, telemetry: 0 }, abort.signal);
        abort.abort();
        const err = await waiting.catch((e: unknown) => e);
        expect(isTidegateError(err, 'ERR_ABORTED')).toBe(true);
        const again = await h.buffer.waitForRecords({ alarm: 0, telemetry: 0 }, abort.signal).catch((e: unknown) => e);
        expect(isTidegateError(again, 'ERR_ABORTED')).toBe(true);
      });
    });

    describe('commitCursor', () => {
      it('removes the handled records, counts them delivered, and persists the cursor across a restart', async () => {
        const h = await make();
        for (let i = 1; i <= 4; i++) await h.buffer.append([reading(i)]);
        const handled = await deliver(h.buffer, 'telemetry', 2);
        const through = handled[1]!.seq;
        expect(h.buffer.cursor(SINK_ID, 'telemetry')).toBe(through);
        expect(h.buffer.stats()).toMatchObject({ received: 4, delivered: 2, buffered: 2 });
        expect((await readAll(h.buffer, 'telemetry')).map(tagOf)).toEqual([3, 4]);
        await expectLedgerMatchesContents(h.buffer);

        const q = await h.reopen();
        expect(q.cursor(SINK_ID, 'telemetry')).toBe(through);
        expect(q.cursor(SINK_ID, 'alarm')).toBe(0);
        expect((await readAll(q, 'telemetry', q.cursor(SINK_ID, 'telemetry'))).map(tagOf)).toEqual([3, 4]);
        expect(q.stats()).toMatchObject({ received: 4, delivered: 2, buffered: 2 });
        await expectLedgerMatchesContents(q);
      });

      it('ignores a cursor at or below the current one', async () => {
        const h = await make();
        const q = h.buffer;
        await q.append([reading(1)]);
        await q.append([reading(2)]);
        const [r1, r2] = await readAll(q, 'telemetry');
        await q.commitCursor(SINK_ID, 'telemetry', r2!.seq, { delivered: [r1!, r2!], deadLettered: [] });
        await q.commitCursor(SINK_ID, 'telemetry', r1!.seq, { delivered: [r1!], deadLettered: [] });
        expect(q.cursor(SINK_ID, 'telemetry')).toBe(r2!.seq);
        expect(q.stats()).toMatchObject({ received: 2, delivered: 2, buffered: 0, bufferedBytes: 0 });
        expectBalanced(q.stats());
      });
    });

    describe('dead letters', () => {
      it('counts a dead-lettered message as received and dead-lettered, by reason, across a restart', async () => {
        const h = await make();
        await h.buffer.appendDeadLetter(deadLetter('invalid_json'));
        await h.buffer.appendDeadLetter(deadLetter('invalid_json'));
        await h.buffer.appendDeadLetter(deadLetter('no_values'));
        await h.buffer.append([reading(1)]);
        expect(h.buffer.stats()).toMatchObject({ received: 4, buffered: 1, deadLettered: { invalid_json: 2, no_values: 1 }, deadLettersStored: 3 });
        expectBalanced(h.buffer.stats());
        const q = await h.reopen();
        expect(q.stats()).toMatchObject({ received: 4, buffered: 1, deadLettered: { invalid_json: 2, no_values: 1 }, deadLettersStored: 3 });
        await expectLedgerMatchesContents(q);
      });

      it('moves a stored record to the dead letters: no longer buffered, and gone once the cursor passes it', async () => {
        const h = await make();
        await h.buffer.append([reading(1)]);
        await h.buffer.append([reading(2)]);
        const [bad, good] = await readAll(h.buffer, 'telemetry');
        await h.buffer.deadLetterRecord(bad!, 'too_large', 'record too large', SINK_ID);
        expect(h.buffer.stats()).toMatchObject({ received: 2, buffered: 1, deadLettered: { too_large: 1 }, deadLettersStored: 1 });
        expectBalanced(h.buffer.stats());
        await h.buffer.commitCursor(SINK_ID, 'telemetry', good!.seq, { delivered: [good!], deadLettered: [bad!] });
        expect(h.buffer.stats()).toMatchObject({ received: 2, delivered: 1, buffered: 0, bufferedBytes: 0, deadLettered: { too_large: 1 } });
        await expectLedgerMatchesContents(h.buffer);
        const q = await h.reopen();
        expect(q.stats()).toMatchObject({ received: 2, delivered: 1, buffered: 0, deadLettered: { too_large: 1 }, deadLettersStored: 1 });
        await expectLedgerMatchesContents(q);
      });

      it('keeps ledger and contents together when a restart comes between deadLetterRecord and the cursor commit', async () => {
        // The sink dead-letters a record, then commits its cursor later, in the background: a crash may fall in between.
        const h = await make();
        await h.buffer.append([reading(1)]);
        const [bad] = await readAll(h.buffer, 'telemetry');
        await h.buffer.deadLetterRecord(bad!, 'too_large', 'record too large', SINK_ID);
        const q = await h.reopen();
        await expectLedgerMatchesContents(q);
        // What the sink does after the restart: anything still readable past its cursor is dead-lettered again.
        for (const r of await readAll(q, 'telemetry', q.cursor(SINK_ID, 'telemetry'))) {
          await q.deadLetterRecord(r, 'too_large', 'record too large', SINK_ID);
          await q.commitCursor(SINK_ID, 'telemetry', r.seq, { delivered: [], deadLettered: [r] });
        }
        expect(q.stats()).toMatchObject({ received: 1, buffered: 0, deadLettered: { too_large: 1 } });
        expectBalanced(q.stats());
      });
    });

    it('balances the ledger after every operation of a mixed workload', async () => {
      const h = await make();
      let q = h.buffer;
      const steps: Array<() => Promise<unknown>> = [
        () => q.append([reading(1)]),
        () => q.append([reading(2, 'alarm'), reading(3, 'alarm')]),
        () => q.appendDeadLetter(deadLetter('invalid_utf8')),
        () => deliver(q, 'alarm', 1),
        () => q.append([reading(4), reading(5)]),
        async () => {
          const [r] = await readAll(q, 'telemetry', q.cursor(SINK_ID, 'telemetry'));
          await q.deadLetterRecord(r!, 'too_large', 'x', SINK_ID);
          await q.commitCursor(SINK_ID, 'telemetry', r!.seq, { delivered: [], deadLettered: [r!] });
        },
        async () => {
          q = await h.reopen();
        },
        () => deliver(q, 'telemetry'),
        () => q.append([reading(6)]),
        () => deliver(q, 'alarm'),
      ];
      for (const step of steps) {
        await step();
        await expectLedgerMatchesContents(q);
      }
      expect(q.stats()).toMatchObject({ received: 7, delivered: 4, buffered: 1, deadLettered: { invalid_utf8: 1, too_large: 1 } });
    });

    describe('budget: drop_newest', () => {
      it('drops and counts an append that does not fit, returns dropped, and never shows it to a reader', async () => {
        const h = await make({ maxBytes: Math.floor(UNIT * 2.5), whenFull: 'drop_newest', commitTimeoutMs: 500 });
        const q = h.buffer;
        expect(await q.append([reading(1)])).toBe('stored');
        expect(await q.append([reading(2)])).toBe('stored');
        expect(await q.append([reading(3)])).toBe('dropped');
        expect(q.stats()).toMatchObject({ received: 3, buffered: 2, dropped: { buffer_full: 1 } });
        expect((await readAll(q, 'telemetry')).map(tagOf)).toEqual([1, 2]);
        await expectLedgerMatchesContents(q);
        // Alarms are not what drop_newest drops.
        expect(await q.append([reading(4, 'alarm')])).toBe('stored');
        expect((await readAll(q, 'alarm')).map(tagOf)).toEqual([4]);
        await expectLedgerMatchesContents(q);
        const reopened = await h.reopen();
        expect(reopened.stats()).toMatchObject({ received: 4, buffered: 3, dropped: { buffer_full: 1 } });
        await expectLedgerMatchesContents(reopened);
      });
    });

    describe('budget: block', () => {
      it('holds an append that does not fit until a commitCursor frees space, then stores it', async () => {
        const h = await make({ maxBytes: Math.floor(UNIT * 2.5), whenFull: 'block', commitTimeoutMs: 10_000 });
        const q = h.buffer;
        await q.append([reading(1)]);
        await q.append([reading(2)]);
        const blocked = track(q.append([reading(3)]));
        await q.read('telemetry', 0, 1);
        expect(blocked.settled()).toBe(false);
        expect(q.stats()).toMatchObject({ received: 2, buffered: 2 });
        await deliver(q, 'telemetry', 1);
        expect(await blocked.promise).toBe('stored');
        expect((await readAll(q, 'telemetry')).map(tagOf)).toEqual([2, 3]);
        expect(q.stats().bufferedBytes).toBeLessThanOrEqual(q.stats().maxBytes);
        await expectLedgerMatchesContents(q);
      });

      it('admits only as many held appends as the freed space takes', async () => {
        const h = await make({ maxBytes: Math.floor(UNIT * 2.5), whenFull: 'block', commitTimeoutMs: 10_000 });
        const q = h.buffer;
        await q.append([reading(1)]);
        await q.append([reading(2)]);
        const a = track(q.append([reading(3)]));
        const b = track(q.append([reading(4)]));
        await deliver(q, 'telemetry', 1);
        expect(await Promise.race([a.promise, b.promise])).toBe('stored');
        expect(q.stats().buffered).toBe(2);
        expect(q.stats().bufferedBytes).toBeLessThanOrEqual(q.stats().maxBytes);
        expect([a.settled(), b.settled()].filter(Boolean)).toHaveLength(1);
        await deliver(q, 'telemetry', 1);
        expect(await Promise.all([a.promise, b.promise])).toEqual(['stored', 'stored']);
        expect(q.stats().bufferedBytes).toBeLessThanOrEqual(q.stats().maxBytes);
        await expectLedgerMatchesContents(q);
      });

      it('refuses with ERR_QUEUE_FULL after commitTimeoutMs when nothing frees space, counting nothing', async () => {
        const h = await make({ maxBytes: Math.floor(UNIT * 2.5), whenFull: 'block', commitTimeoutMs: 150 });
        const q = h.buffer;
        await q.append([reading(1)]);
        await q.append([reading(2)]);
        const err = await q.append([reading(3)]).catch((e: unknown) => e);
        expect(isTidegateError(err, 'ERR_QUEUE_FULL')).toBe(true);
        expect(q.stats()).toMatchObject({ received: 2, buffered: 2, dropped: {} });
        expect((await readAll(q, 'telemetry')).map(tagOf)).toEqual([1, 2]);
        await expectLedgerMatchesContents(q);
      });
    });

    describe('budget: drop_oldest', () => {
      const budget = Math.floor(UNIT * 3.5);

      it('stores every append and drops the oldest unread telemetry, counted, until the buffer fits', async () => {
        const h = await make({ maxBytes: budget, whenFull: 'drop_oldest' });
        const q = h.buffer;
        for (let i = 1; i <= 8; i++) expect(await q.append([reading(i)])).toBe('stored');
        // Only the pruning is asynchronous; the bound is far below any periodic timer.
        await vi.waitFor(() => expect(q.stats().bufferedBytes).toBeLessThanOrEqual(budget), WAIT);
        const stats = q.stats();
        expect(stats.dropped.buffer_full_oldest).toBeGreaterThan(0);
        expect(stats.received).toBe(8);
        expect(Object.keys(stats.dropped)).toEqual(['buffer_full_oldest']);
        // The survivors are the newest readings: readers never see a dropped one.
        const left = (await readAll(q, 'telemetry')).map(tagOf);
        expect(left).toEqual([1, 2, 3, 4, 5, 6, 7, 8].slice(8 - stats.buffered));
        await expectLedgerMatchesContents(q);
      });

      it('drops right after the first append that goes over budget, without waiting for another one', async () => {
        const h = await make({ maxBytes: budget, whenFull: 'drop_oldest' });
        const q = h.buffer;
        for (let i = 1; i <= 4; i++) expect(await q.append([reading(i)])).toBe('stored');
        // Three records fit, the fourth is over budget; the bound is far below any periodic timer.
        await vi.waitFor(() => expect(q.stats().bufferedBytes).toBeLessThanOrEqual(budget), WAIT);
        expect(q.stats()).toMatchObject({ received: 4, dropped: { buffer_full_oldest: 4 - q.stats().buffered } });
        expect((await readAll(q, 'telemetry')).map(tagOf)).toEqual([1, 2, 3, 4].slice(4 - q.stats().buffered));
        await expectLedgerMatchesContents(q);
      });

      it('drops telemetry and never an alarm while unread telemetry remains', async () => {
        const h = await make({ maxBytes: budget, whenFull: 'drop_oldest' });
        const q = h.buffer;
        await q.append([reading(1, 'alarm')]);
        await q.append([reading(2, 'alarm')]);
        for (let i = 3; i <= 8; i++) await q.append([reading(i)]);
        await vi.waitFor(() => expect(q.stats().dropped.buffer_full_oldest ?? 0).toBeGreaterThan(0), WAIT);
        expect((await readAll(q, 'alarm')).map(tagOf)).toEqual([1, 2]);
        expect((await readAll(q, 'telemetry')).length).toBeGreaterThan(0);
        await expectLedgerMatchesContents(q);
      });

      it('never drops what a reader holds: held records stay readable, and nothing is both dropped and delivered', async () => {
        const h = await make({ maxBytes: budget, whenFull: 'drop_oldest' });
        const q = h.buffer;
        for (let i = 1; i <= 3; i++) await q.append([reading(i)]);
        const held = await q.read('telemetry', 0, 2); // read by the sink, not yet delivered
        expect(held.map(tagOf)).toEqual([1, 2]);
        for (let i = 4; i <= 9; i++) await q.append([reading(i)]);
        await vi.waitFor(() => expect(q.stats().dropped.buffer_full_oldest ?? 0).toBeGreaterThan(0), WAIT);
        // Read again from the cursor (as after a failed call): the held records are still there, first.
        const again = await readAll(q, 'telemetry', q.cursor(SINK_ID, 'telemetry'));
        expect(again.slice(0, 2).map(tagOf)).toEqual([1, 2]);
        await expectLedgerMatchesContents(q);
        const delivered = await deliver(q, 'telemetry');
        const stats = q.stats();
        expect(stats.delivered).toBe(delivered.length);
        expect(stats.delivered + stats.buffered + (stats.dropped.buffer_full_oldest ?? 0)).toBe(9);
        expect(new Set(delivered.map(tagOf)).size).toBe(delivered.length);
        expectBalanced(stats);
        expect(sumReasons(stats.dropped) + delivered.length).toBe(9);
      });
    });
  });
}
