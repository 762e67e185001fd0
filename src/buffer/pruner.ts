import type { Logger } from '../core/logger.js';
import { describeError } from '../core/errors.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { BufferStore } from './open-store.js';
import { BULK_READ, decodeStoredValue, recordEnd, recordKey } from './record-codec.js';
import type { BatchOp, Conservation, Lane, LedgerDelta, StoredRecord, WhenFull } from './types.js';

// Telemetry is dropped before alarms: alarms are the last thing ever dropped.
const DROP_ORDER: readonly Lane[] = ['telemetry', 'alarm'];
const SCAN = 1_000;
// drop_oldest frees down to this share of the budget, so it runs in bursts rather than on every append.
const LOW_WATERMARK = 0.95;

/**
 * The part of the LevelBuffer the pruner works on. Declared here rather than imported, so the buffer, which
 * owns the pruner, and the pruner do not import each other.
 */
export interface PrunableBuffer {
  readonly db: BufferStore;
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
  readonly ledger: Readonly<Conservation>;
  readonly readHigh: Readonly<Record<Lane, number>>;
  readonly liveFrom: Readonly<Record<Lane, number>>;
  readonly dropFloor: Record<Lane, number>;
  readonly droppedRanges: Record<Lane, Array<[number, number]>>;
  minCursor(lane: Lane): number;
  submit(ops: BatchOp[], delta?: LedgerDelta): Promise<void>;
  wakeSpace(): void;
}

/**
 * Drops readings the buffer may no longer keep: the oldest unsent ones when over budget with
 * `whenFull: drop_oldest`, and those older than `maxAgeMs`. Each drop is counted with its reason, logged,
 * and persisted with the ledger in one batch. It only ever touches records no reader holds (above every
 * reader's high-water mark), so a record is never both dropped and delivered.
 */
export class Pruner {
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly q: PrunableBuffer,
    private readonly opts: { maxAgeMs?: number | undefined; logger: Logger },
  ) {
    this.warnings = new RateLimitedLog(opts.logger);
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), 5_000).unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  kick(): void {
    if (this.running || this.stopped) return;
    this.running = this.run()
      .catch((err: unknown) => this.opts.logger.error({ err: describeError(err) }, 'pruning the buffer failed; will retry'))
      .finally(() => {
        this.running = null;
      });
  }

  private async run(): Promise<void> {
    if (this.q.whenFull === 'drop_oldest') {
      while (!this.stopped && this.q.ledger.bufferedBytes > this.q.maxBytes) {
        const freed = await this.dropOldest(this.q.ledger.bufferedBytes - this.q.maxBytes * LOW_WATERMARK);
        if (freed === 0) break; // everything left is held by a reader: nothing can be dropped now
      }
    }
    if (this.opts.maxAgeMs !== undefined && !this.stopped) await this.expire(Date.now() - this.opts.maxAgeMs);
  }

  private start_(lane: Lane): number {
    return Math.max(this.q.readHigh[lane], this.q.minCursor(lane), this.q.dropFloor[lane]);
  }

  private async candidates(lane: Lane): Promise<StoredRecord[]> {
    // Records a live reader follows (the newest, read ahead of a backlog) are held too: never drop them.
    const liveFrom = this.q.liveFrom[lane];
    const entries = await this.q.db
      .iterator<string, Buffer>({ gt: recordKey(lane, this.start_(lane)), ...(Number.isFinite(liveFrom) ? { lt: recordKey(lane, liveFrom) } : { lt: recordEnd(lane) }), limit: SCAN, valueEncoding: 'buffer', ...BULK_READ })
      .all();
    const out: StoredRecord[] = [];
    for (const [key, value] of entries) {
      try {
        out.push(decodeStoredValue(lane, key, value));
      } catch {
        // A damaged record is left for the reader, which dead-letters it with its reason.
      }
    }
    // A read may have completed while we scanned: never drop what a reader now holds.
    const floor = this.start_(lane);
    return out.filter((r) => r.seq > floor && r.seq < this.q.liveFrom[lane]);
  }

  private async dropOldest(targetBytes: number): Promise<number> {
    for (const lane of DROP_ORDER) {
      const picked: StoredRecord[] = [];
      let bytes = 0;
      for (const r of await this.candidates(lane)) {
        if (bytes >= targetBytes) break;
        picked.push(r);
        bytes += r.bytes;
      }
      if (picked.length > 0) {
        await this.drop(lane, picked, 'buffer_full_oldest');
        this.warnings.warn('drop_oldest', { lane, dropped: picked.length, maxBytes: this.q.maxBytes }, 'buffer full (buffer.whenFull: drop_oldest): oldest unsent readings dropped and counted');
        return bytes;
      }
    }
    return 0;
  }

  private async expire(cutoff: number): Promise<void> {
    for (const lane of DROP_ORDER) {
      for (;;) {
        const old: StoredRecord[] = [];
        const batch = await this.candidates(lane);
        for (const r of batch) {
          const receivedAt = (JSON.parse(r.data.toString('utf8')) as { receivedAt?: number }).receivedAt ?? 0;
          if (receivedAt >= cutoff) break;
          old.push(r);
        }
        if (old.length === 0) break;
        await this.drop(lane, old, 'expired');
        this.warnings.warn('expired', { lane, dropped: old.length }, 'readings older than buffer.maxAgeMs dropped and counted');
        if (old.length < batch.length || this.stopped) break;
      }
    }
  }

  private async drop(lane: Lane, records: StoredRecord[], reason: string): Promise<void> {
    // The floor moves before the write, so reads already under way filter these records out.
    this.q.dropFloor[lane] = Math.max(this.q.dropFloor[lane], records[records.length - 1]!.seq);
    this.q.droppedRanges[lane].push([records[0]!.seq, records[records.length - 1]!.seq]);
    const ops: BatchOp[] = records.map((r) => ({ type: 'del', key: recordKey(lane, r.seq) }));
    const bytes = Math.min(this.q.ledger.bufferedBytes, records.reduce((n, r) => n + r.bytes, 0));
    await this.q.submit(ops, { buffered: -records.length, bufferedBytes: -bytes, dropped: { [reason]: records.length } });
    this.q.wakeSpace();
  }
}
