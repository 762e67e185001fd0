// The DurableQueue in memory, for unit tests of sinks and for the queue's contract and model tests
// (test/contract, test/unit/queue-model.test.ts): LevelQueue's semantics without a disk, plus crash().
import { TidegateError } from '../core/errors.js';
import { addReason, applyDelta, emptyConservation } from './conservation.js';
import type { StoredDeadLetter } from './dead-letters.js';
import { GroupCommit } from './group-commit.js';
import { Waiters } from './waiters.js';
import { encodeRecordBody, encodeRecordJson, encodeStoredValue, estimateStoredBytes, recordKey, storedBytes } from './record-codec.js';
import {
  LANES,
  type AppendOptions,
  type AppendOutcome,
  type Conservation,
  type DeadLetter,
  type DurableQueue,
  type Lane,
  type PendingReading,
  type QueueStats,
  type ReadOptions,
  type StoredRecord,
  type WhenFull,
} from './types.js';

/** What a MemoryQueue is built with: the LevelQueue options that still mean something without a disk. */
export interface MemoryQueueOptions {
  gatewayId: string;
  /** The sinks whose cursors gate what `drop_oldest` may drop. */
  sinkIds: readonly string[];
  /** The buffer budget in bytes (keys plus stored values); absent means no budget. */
  maxBytes?: number;
  whenFull?: WhenFull;
  /** How long a `block` append waits for space before it is refused with ERR_QUEUE_FULL. */
  commitTimeoutMs?: number;
  /** Minimum time between group commits (default 0: one commit per event-loop turn). */
  commitIntervalMs?: number;
  maxCommitRecords?: number;
}

type Op =
  | { type: 'put'; record: StoredRecord }
  | { type: 'del'; lane: Lane; seq: number }
  | { type: 'cursor'; key: string; seq: number }
  | { type: 'deadLetter'; n: number; entry: DeadLetter }
  /** Writes nothing but the ledger (a reading dropped by `drop_newest` is counted durably). */
  | { type: 'ledger' };

/** Everything a store holds. The queue keeps two: as of everything submitted, and as of the last commit. */
interface State {
  /** Per lane, in sequence order (records are only ever inserted with a higher sequence). */
  records: Record<Lane, Map<number, StoredRecord>>;
  cursors: Map<string, number>;
  deadLetters: Map<number, DeadLetter>;
  nextSeq: number;
  nextDeadLetter: number;
  ledger: Conservation;
  deadLettersStored: number;
}

// Telemetry is dropped before alarms, and down to this share of the budget, as the LevelDB pruner does.
const DROP_ORDER: readonly Lane[] = ['telemetry', 'alarm'];
const LOW_WATERMARK = 0.95;

/**
 * The durable queue in memory: the same observable semantics as `LevelQueue` without a disk, for unit tests
 * of sinks and for the queue's contract and model tests.
 *
 * Writes go through the same group commit as on LevelDB (a batch per `setImmediate`), and only what a
 * commit wrote is "durable": `crash()` returns a new queue holding exactly that, which is what a process
 * crash leaves behind. Between commits, readers see only committed records, sequences are never reused,
 * and the ledger in `stats()` balances: received + produced = delivered + buffered + deadLettered + dropped + filtered + consumed.
 * Budget bytes are counted like on disk (key plus stored value, with the record codec's encoding).
 *
 * It keeps no age limit (`maxAgeMs`). Where the contract tests found LevelQueue wanting, it does what the
 * contract asks: `deadLetterRecord` removes the record in the same commit as its dead letter (a crash in
 * between cannot count it twice), a `block` append re-checks the budget right before it stores, and
 * `drop_oldest` prunes as soon as the append that went over budget is committed.
 */
export class MemoryQueue implements DurableQueue {
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
  private readonly commit: GroupCommit<Op>;
  /** As of everything submitted (what the LevelDB queue keeps in memory). */
  private live: State = emptyState();
  /** As of the last group commit (what the LevelDB queue has on disk). */
  private durable: State = emptyState();
  private readonly lastCommitted: Record<Lane, number> = { alarm: 0, telemetry: 0 };
  /** Highest sequence handed to a reader, per lane: `drop_oldest` drops only what no reader holds. */
  private readonly readHigh: Record<Lane, number> = { alarm: 0, telemetry: 0 };
  private readonly recordWaiters = new Waiters();
  private readonly spaceWaiters = new Set<() => void>();
  private closed = false;
  private crashed = false;

  constructor(private readonly opts: MemoryQueueOptions) {
    this.maxBytes = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.whenFull = opts.whenFull ?? 'block';
    this.commit = new GroupCommit<Op>({
      intervalMs: opts.commitIntervalMs ?? 0,
      maxOps: opts.maxCommitRecords ?? 2_000,
      write: (ops) => this.writeBatch(ops),
    });
  }

  async open(): Promise<void> {
    if (this.closed) throw closedError();
  }

  async append(readings: readonly PendingReading[], appendOpts: AppendOptions = {}): Promise<AppendOutcome> {
    if (this.closed) throw closedError();
    const extra = appendOpts.ledger;
    if (readings.length === 0) {
      if (!extra) return 'stored';
      applyDelta(this.live.ledger, extra);
      await this.submit([{ type: 'ledger' }]);
      return 'stored';
    }
    const lane: Lane = readings.some((r) => r.lane === 'alarm') ? 'alarm' : 'telemetry';
    // The same estimate as LevelQueue, so the budget trips at the same point.
    const estimate = readings.reduce((n, r) => n + estimateStoredBytes(encodeRecordBody(r), r.deviceId, this.opts.gatewayId), 0);
    if (this.live.ledger.bufferedBytes + estimate > this.maxBytes) {
      if (this.whenFull === 'drop_newest' && lane !== 'alarm') {
        this.live.ledger.received += readings.length;
        addReason(this.live.ledger.dropped, 'buffer_full', readings.length);
        if (extra) applyDelta(this.live.ledger, extra);
        await this.submit([{ type: 'ledger' }]);
        return 'dropped';
      }
      if (this.whenFull === 'block') {
        // Re-checked after every wake-up, right before storing: one freed record must not admit several appends.
        const deadline = Date.now() + (this.opts.commitTimeoutMs ?? 30_000);
        while (!this.fits(estimate)) await this.spaceFreed(deadline);
      }
    }
    const ops: Op[] = [];
    const last: Partial<Record<Lane, number>> = {};
    for (const r of readings) {
      const seq = this.live.nextSeq++;
      const recordLane = r.lane ?? lane;
      const key = recordKey(recordLane, seq);
      const json = encodeRecordJson(this.opts.gatewayId, seq, r);
      const record: StoredRecord = { lane: recordLane, seq, partitionKey: r.deviceId, data: Buffer.from(json, 'utf8'), bytes: storedBytes(key, encodeStoredValue(r.deviceId, json)) };
      this.live.records[recordLane].set(seq, record);
      this.live.ledger.bufferedBytes += record.bytes;
      last[recordLane] = seq;
      ops.push({ type: 'put', record });
    }
    this.live.ledger.received += readings.length;
    this.live.ledger.buffered += readings.length;
    if (extra) applyDelta(this.live.ledger, extra);
    await this.submit(ops);
    for (const l of LANES) if (last[l] !== undefined) this.markCommitted(l, last[l]);
    if (this.whenFull === 'drop_oldest' && !this.closed) this.dropOldest();
    return 'stored';
  }

  async appendDeadLetter(entry: DeadLetter): Promise<void> {
    if (this.closed) throw closedError();
    this.live.ledger.received += 1;
    addReason(this.live.ledger.deadLettered, entry.reason);
    await this.submit([this.putDeadLetter(entry)]);
  }

  async deadLetterRecord(record: StoredRecord, reason: string, message: string, source: string): Promise<void> {
    if (this.closed) throw closedError();
    const stored = this.live.records[record.lane].get(record.seq);
    if (!stored) return; // already delivered, dropped or dead-lettered: there is nothing left to move
    this.live.records[record.lane].delete(record.seq);
    this.live.ledger.buffered -= 1;
    this.live.ledger.bufferedBytes -= stored.bytes;
    addReason(this.live.ledger.deadLettered, reason);
    const entry: DeadLetter = { reason, message, source, origin: stored.partitionKey, receivedAt: Date.now(), payloadBase64: stored.data.toString('base64') };
    await this.submit([this.putDeadLetter(entry), { type: 'del', lane: record.lane, seq: record.seq }]);
    this.wakeSpace();
  }

  async read(lane: Lane, afterSeq: number, max: number, opts: ReadOptions = {}): Promise<StoredRecord[]> {
    if (this.closed) throw closedError();
    // Only committed records are visible: a sink must never send what could still be lost.
    const upTo = Math.min(this.lastCommitted[lane], opts.upTo ?? Infinity);
    const out: StoredRecord[] = [];
    if (upTo <= afterSeq) return out;
    for (const record of this.live.records[lane].values()) {
      if (record.seq <= afterSeq) continue;
      if (record.seq > upTo || out.length >= max) break;
      out.push(record);
    }
    // A live reader's records (the newest) are never the oldest the pruner looks at; its position is not tracked here.
    if (out.length > 0 && opts.reader !== 'live') this.readHigh[lane] = Math.max(this.readHigh[lane], out[out.length - 1]!.seq);
    return out;
  }

  head(lane: Lane): number {
    return this.lastCommitted[lane];
  }

  waitForRecords(after: Readonly<Record<Lane, number>>, signal: AbortSignal): Promise<void> {
    return this.recordWaiters.until(() => this.closed || LANES.some((lane) => this.lastCommitted[lane] > after[lane]), signal);
  }


  cursor(sinkId: string, lane: Lane): number {
    return this.live.cursors.get(cursorKey(sinkId, lane)) ?? 0;
  }

  async commitCursor(sinkId: string, lane: Lane, seq: number, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void> {
    if (this.closed) throw closedError();
    if (seq <= this.cursor(sinkId, lane)) return;
    await this.remove(lane, handled, { key: cursorKey(sinkId, lane), seq });
  }

  removeHandled(lane: Lane, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return this.remove(lane, handled, null);
  }

  private async remove(lane: Lane, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }, cursor: { key: string; seq: number } | null): Promise<void> {
    const records = this.live.records[lane];
    const notMoved = handled.deadLettered.find((r) => records.has(r.seq));
    if (notMoved) throw new Error(`commitCursor: ${lane} record ${notMoved.seq} is listed as dead-lettered, but deadLetterRecord() was not called for it`);
    const ops: Op[] = [];
    if (cursor) {
      this.live.cursors.set(cursor.key, cursor.seq);
      ops.push({ type: 'cursor', key: cursor.key, seq: cursor.seq });
    }
    for (const r of handled.delivered) {
      const stored = records.get(r.seq);
      if (!stored) continue; // a record is counted as delivered once
      records.delete(r.seq);
      this.live.ledger.delivered += 1;
      this.live.ledger.buffered -= 1;
      this.live.ledger.bufferedBytes -= stored.bytes;
      ops.push({ type: 'del', lane, seq: r.seq });
    }
    await this.submit(ops);
    this.wakeSpace();
  }

  stats(): QueueStats {
    const ledger = this.live.ledger;
    return {
      ...ledger,
      deadLettered: { ...ledger.deadLettered },
      dropped: { ...ledger.dropped },
      lastSeq: this.live.nextSeq - 1,
      deadLettersStored: this.live.deadLettersStored,
      commits: this.commit.commits,
      maxBytes: this.maxBytes,
      whenFull: this.whenFull,
      degraded: null,
    };
  }

  /** The dead letters currently kept, oldest first (what `listDeadLetters` reads from the LevelDB store). */
  deadLetters(): StoredDeadLetter[] {
    return [...this.live.deadLetters].map(([n, entry]) => ({ n, entry }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeSpace();
    // Everything already submitted is committed before the queue closes: those readings may be acked.
    await this.commit.drain();
    this.commit.stop();
    this.wakeWaiters();
  }

  /**
   * What a process crash leaves: a new, open queue holding only what was committed (appends whose commit
   * had not happened are gone, along with their ledger entries). This queue is finished: its pending writes
   * fail with ERR_QUEUE_CLOSED and it refuses new work.
   */
  crash(): MemoryQueue {
    this.closed = true;
    this.crashed = true;
    this.wakeSpace();
    this.wakeWaiters();
    const next = new MemoryQueue(this.opts);
    next.restore(this.durable);
    return next;
  }

  private restore(image: State): void {
    this.durable = cloneState(image);
    this.live = cloneState(image);
    for (const lane of LANES) {
      this.lastCommitted[lane] = this.lastRecordSeq(lane);
      this.readHigh[lane] = this.minCursor(lane);
    }
  }

  private submit(ops: Op[]): Promise<void> {
    return this.commit.submit(ops);
  }

  /** One group commit: its ops, plus the sequence pointers and the ledger as of the moment it is cut. */
  private writeBatch(ops: Op[]): Promise<void> {
    if (this.crashed) return Promise.reject(new TidegateError('ERR_QUEUE_CLOSED', 'the buffer crashed before this write was committed'));
    const d = this.durable;
    for (const op of ops) {
      if (op.type === 'put') d.records[op.record.lane].set(op.record.seq, op.record);
      else if (op.type === 'del') d.records[op.lane].delete(op.seq);
      else if (op.type === 'cursor') d.cursors.set(op.key, op.seq);
      else if (op.type === 'deadLetter') d.deadLetters.set(op.n, op.entry);
    }
    d.nextSeq = this.live.nextSeq;
    d.nextDeadLetter = this.live.nextDeadLetter;
    d.ledger = cloneLedger(this.live.ledger);
    d.deadLettersStored = this.live.deadLettersStored;
    return Promise.resolve();
  }

  private putDeadLetter(entry: DeadLetter): Op {
    const n = this.live.nextDeadLetter++;
    this.live.deadLetters.set(n, entry);
    this.live.deadLettersStored += 1;
    return { type: 'deadLetter', n, entry };
  }

  private markCommitted(lane: Lane, last: number): void {
    if (last > this.lastCommitted[lane]) this.lastCommitted[lane] = last;
    this.recordWaiters.wakeAll();
  }

  private lastRecordSeq(lane: Lane): number {
    let last = 0;
    for (const seq of this.live.records[lane].keys()) last = seq;
    return last;
  }

  private minCursor(lane: Lane): number {
    let min = Infinity;
    for (const sinkId of this.opts.sinkIds) min = Math.min(min, this.cursor(sinkId, lane));
    return min === Infinity ? this.lastCommitted[lane] : min;
  }

  /**
   * `drop_oldest`, after an append that went over budget: drops the oldest committed records no reader holds,
   * telemetry first (alarms only when no such telemetry is left), down to the low watermark.
   */
  private dropOldest(): void {
    const ledger = this.live.ledger;
    while (ledger.bufferedBytes > this.maxBytes) {
      const target = ledger.bufferedBytes - this.maxBytes * LOW_WATERMARK;
      let freed = 0;
      for (const lane of DROP_ORDER) {
        const floor = Math.max(this.readHigh[lane], this.minCursor(lane));
        const picked: StoredRecord[] = [];
        for (const record of this.live.records[lane].values()) {
          if (record.seq <= floor) continue;
          if (record.seq > this.lastCommitted[lane] || freed >= target) break;
          picked.push(record);
          freed += record.bytes;
        }
        if (picked.length === 0) continue;
        for (const r of picked) this.live.records[lane].delete(r.seq);
        ledger.buffered -= picked.length;
        ledger.bufferedBytes -= freed;
        addReason(ledger.dropped, 'buffer_full_oldest', picked.length);
        // The append that caused this is already acknowledged; a crash before this commit only undoes the drop.
        this.submit(picked.map((r) => ({ type: 'del', lane, seq: r.seq }))).catch(() => undefined);
        break;
      }
      if (freed === 0) return; // everything left is held by a reader
    }
    this.wakeSpace();
  }

  /** `block` admits readings that fit, or any when the buffer is empty. */
  private fits(bytes: number): boolean {
    return this.live.ledger.bufferedBytes + bytes <= this.maxBytes || this.live.ledger.buffered === 0;
  }

  /** Resolves when space may have been freed; refuses with ERR_QUEUE_FULL at the deadline, ERR_QUEUE_CLOSED on close. */
  private spaceFreed(deadline: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const timeoutMs = this.opts.commitTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.spaceWaiters.delete(wake);
        if (err) reject(err);
        else resolve();
      };
      const wake = (): void => done(this.closed ? closedError() : undefined);
      const timer = setTimeout(
        () => done(new TidegateError('ERR_QUEUE_FULL', `the buffer is full (${this.live.ledger.bufferedBytes} of ${this.maxBytes} bytes) and no space was freed within ${timeoutMs} ms`, { retryable: true })),
        Math.max(0, deadline - Date.now()),
      );
      this.spaceWaiters.add(wake);
    });
  }

  private wakeSpace(): void {
    for (const wake of [...this.spaceWaiters]) wake();
  }

  private wakeWaiters(): void {
    this.recordWaiters.wakeAll();
  }
}

const cursorKey = (sinkId: string, lane: Lane): string => `${sinkId}!${lane}`;

function emptyState(): State {
  return { records: { alarm: new Map(), telemetry: new Map() }, cursors: new Map(), deadLetters: new Map(), nextSeq: 1, nextDeadLetter: 1, ledger: emptyConservation(), deadLettersStored: 0 };
}

function cloneLedger(c: Conservation): Conservation {
  return { ...c, deadLettered: { ...c.deadLettered }, dropped: { ...c.dropped } };
}

function cloneState(s: State): State {
  return {
    records: { alarm: new Map(s.records.alarm), telemetry: new Map(s.records.telemetry) },
    cursors: new Map(s.cursors),
    deadLetters: new Map(s.deadLetters),
    nextSeq: s.nextSeq,
    nextDeadLetter: s.nextDeadLetter,
    ledger: cloneLedger(s.ledger),
    deadLettersStored: s.deadLettersStored,
  };
}

function closedError(): TidegateError {
  return new TidegateError('ERR_QUEUE_CLOSED', 'the buffer is closed (tidegate is shutting down)');
}
