import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { abortError } from '../core/abort.js';
import { TidegateError } from '../core/errors.js';
import type { Reading } from '../normalize/reading.js';
import { GroupCommit } from './group-commit.js';
import {
  DEAD_LETTER_END,
  DEAD_LETTER_PREFIX,
  META_NEXT_DEAD_LETTER,
  META_NEXT_SEQ,
  RECORD_END,
  RECORD_PREFIX,
  decodeStoredValue,
  encodeRecordJson,
  encodeStoredValue,
  keySeq,
  metaCursorKey,
  seqKey,
} from './record-codec.js';
import type { DeadLetter, DurableQueue, QueueStats, StoredRecord } from './types.js';

/** A key/value put; the group commit only ever adds records and dead letters. */
type BatchOp = { key: string; value: string };

export interface LevelQueueOptions {
  dir: string;
  gatewayId: string;
  durability: 'fsync' | 'os';
  commitIntervalMs: number;
  maxCommitRecords: number;
  /** Appends not committed within this time are rejected (not acked) instead of waiting forever. */
  commitTimeoutMs?: number;
  /** Sinks whose cursors gate deletion; a record is removed once every one of them has passed it. */
  sinkIds: readonly string[];
}

/**
 * The durable queue on LevelDB. Readings and the next-sequence pointer are written in one atomic batch,
 * so a sequence is never handed out twice, also across restarts. Startup reads metadata and seeks to the
 * newest keys: it never scans the backlog.
 */
export class LevelQueue implements DurableQueue {
  private readonly db: Level<string, string>;
  private readonly commit: GroupCommit<BatchOp>;
  private nextSeq = 1;
  private nextDeadLetter = 1;
  private committedSeq = 0;
  private readonly cursors = new Map<string, number>();
  private deletedThrough = 0;
  private deadLetterCount = 0;
  private recordWaiters = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: LevelQueueOptions) {
    // A small block cache: the queue reads what it wrote moments ago (mostly from the memtable) once.
    this.db = new Level<string, string>(opts.dir, { valueEncoding: 'utf8', cacheSize: 2 * 1024 * 1024 });
    this.commit = new GroupCommit<BatchOp>({
      intervalMs: opts.commitIntervalMs,
      maxOps: opts.maxCommitRecords,
      writeTimeoutMs: opts.commitTimeoutMs ?? 30_000,
      write: (ops) => this.writeBatch(ops),
    });
  }

  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    try {
      await this.db.open();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') {
        throw new TidegateError('ERR_QUEUE_LOCKED', `another tidegate process is using ${this.opts.dir}; stop it or point dataDir elsewhere`, { cause: err });
      }
      throw new TidegateError('ERR_QUEUE_OPEN', `cannot open the buffer in ${this.opts.dir}: ${(err as Error).message}`, { cause: err });
    }
    const lastRecord = await this.lastKey(RECORD_PREFIX, RECORD_END);
    this.nextSeq = Math.max(Number((await this.db.get(META_NEXT_SEQ)) ?? 1), lastRecord + 1);
    this.committedSeq = this.nextSeq - 1;
    const lastDeadLetter = await this.lastKey(DEAD_LETTER_PREFIX, DEAD_LETTER_END);
    this.nextDeadLetter = Math.max(Number((await this.db.get(META_NEXT_DEAD_LETTER)) ?? 1), lastDeadLetter + 1);
    // Dead letters are only ever added (an operator purge arrives with the dead-letters command).
    this.deadLetterCount = this.nextDeadLetter - 1;
    for (const sinkId of this.opts.sinkIds) {
      this.cursors.set(sinkId, Number((await this.db.get(metaCursorKey(sinkId))) ?? 0));
    }
    this.deletedThrough = this.minCursor();
  }

  append(readings: readonly Reading[]): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (readings.length === 0) return Promise.resolve();
    const ops: BatchOp[] = [];
    for (const r of readings) {
      const seq = this.nextSeq++;
      ops.push({ key: seqKey(RECORD_PREFIX, seq), value: encodeStoredValue(r.deviceId, encodeRecordJson(this.opts.gatewayId, seq, r)) });
    }
    const last = this.nextSeq - 1;
    return this.commit.submit(ops).then(() => this.markCommitted(last), (err) => Promise.reject(writeError(err)));
  }

  appendDeadLetter(entry: DeadLetter): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const n = this.nextDeadLetter++;
    return this.commit.submit([{ key: seqKey(DEAD_LETTER_PREFIX, n), value: JSON.stringify(entry) }]).then(() => {
      this.deadLetterCount += 1;
    }, (err) => Promise.reject(writeError(err)));
  }

  async read(afterSeq: number, max: number): Promise<StoredRecord[]> {
    // Only committed records are visible: a sink must never send what could still be lost.
    const entries = await this.db
      .iterator<string, Buffer>({ gt: seqKey(RECORD_PREFIX, afterSeq), lte: seqKey(RECORD_PREFIX, this.committedSeq), limit: max, valueEncoding: 'buffer' })
      .all();
    return entries.map(([key, value]) => decodeStoredValue(key, value));
  }

  async readDeadLetters(max: number): Promise<Array<{ n: number; entry: DeadLetter }>> {
    const entries = await this.db.iterator({ gt: DEAD_LETTER_PREFIX, lt: DEAD_LETTER_END, limit: max }).all();
    return entries.map(([key, value]) => ({ n: keySeq(key), entry: JSON.parse(value) as DeadLetter }));
  }

  waitForRecords(afterSeq: number, signal: AbortSignal): Promise<void> {
    if (this.committedSeq > afterSeq || this.closed) return Promise.resolve();
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        if (this.committedSeq <= afterSeq && !this.closed) return;
        this.recordWaiters.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.recordWaiters.delete(wake);
        reject(abortError(signal));
      };
      this.recordWaiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  cursor(sinkId: string): number {
    return this.cursors.get(sinkId) ?? 0;
  }

  async commitCursor(sinkId: string, seq: number): Promise<void> {
    if (seq <= this.cursor(sinkId)) return;
    this.cursors.set(sinkId, seq);
    const through = this.minCursor();
    // Records first, then the cursor: a crash in between leaves a cursor behind already-deleted keys
    // (harmless), never orphaned records below the cursor. Unsynced on purpose: losing these writes on power
    // loss only means re-sending (at-least-once), never losing. `clear` runs the range delete natively.
    if (through > this.deletedThrough) {
      await this.db.clear({ gt: seqKey(RECORD_PREFIX, this.deletedThrough), lte: seqKey(RECORD_PREFIX, through) });
      this.deletedThrough = through;
    }
    await this.db.put(metaCursorKey(sinkId), String(seq));
  }

  stats(): QueueStats {
    return {
      buffered: Math.max(0, this.committedSeq - this.minCursor()),
      lastSeq: this.nextSeq - 1,
      deadLetters: this.deadLetterCount,
      commits: this.commit.commits,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Everything already submitted is written before the store closes: those readings may be acked.
    await this.commit.drain();
    this.commit.stop();
    for (const wake of [...this.recordWaiters]) wake();
    await this.db.close();
  }

  /**
   * One atomic batch per group commit: the records plus the next-sequence pointers, written once per batch
   * (not once per reading). The pointers may run ahead of this batch's records (appends that joined the
   * next batch already took numbers); a gap is harmless, a reused sequence would not be.
   */
  private writeBatch(ops: BatchOp[]): Promise<void> {
    const batch = this.db.batch();
    for (const op of ops) batch.put(op.key, op.value);
    batch.put(META_NEXT_SEQ, String(this.nextSeq));
    batch.put(META_NEXT_DEAD_LETTER, String(this.nextDeadLetter));
    return batch.write({ sync: this.opts.durability === 'fsync' });
  }

  private markCommitted(last: number): void {
    if (last > this.committedSeq) this.committedSeq = last;
    for (const wake of [...this.recordWaiters]) wake();
  }

  private minCursor(): number {
    let min = Infinity;
    for (const c of this.cursors.values()) min = Math.min(min, c);
    return min === Infinity ? this.committedSeq : min;
  }

  private async lastKey(gt: string, lt: string): Promise<number> {
    const keys = await this.db.keys({ gt, lt, reverse: true, limit: 1 }).all();
    return keys.length > 0 ? keySeq(keys[0]!) : 0;
  }
}

function closedError(): TidegateError {
  return new TidegateError('ERR_QUEUE_CLOSED', 'the buffer is closed (tidegate is shutting down)');
}

function writeError(err: unknown): TidegateError {
  return new TidegateError('ERR_QUEUE_WRITE', `writing to the buffer failed: ${(err as Error).message}`, { cause: err, retryable: true });
}
