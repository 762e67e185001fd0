import { Level } from 'level';
import type { BufferStore } from './open-store.js';
import { pino } from 'pino';
import { delay } from '../core/abort.js';
import { Backoff } from '../core/backoff.js';
import { TidegateError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import { applyDelta, emptyConservation, mergeDelta, parseConservation, type LedgerDelta } from './conservation.js';
import { GroupCommit } from './group-commit.js';
import { Waiters } from './waiters.js';
import { openForInspection, openStore } from './open-store.js';
import { ensurePrivateDir } from './private-dir.js';
import { shareReadBuffers } from './read-slab.js';
import {
  BULK_READ,
  DamagedRecordError,
  DEAD_LETTER_END,
  DEAD_LETTER_PREFIX,
  deadLetterKey,
  decodeStoredValue,
  encodeRecordBody,
  estimateStoredBytes,
  encodeStoredRecord,
  storedRecordOf,
  keySeq,
  META_CONSERVATION,
  META_DEAD_LETTERS_STORED,
  META_NEXT_DEAD_LETTER,
  META_NEXT_SEQ,
  metaCursorKey,
  OUTBOX_END,
  OUTBOX_PREFIX,
  outboxKey,
  recordEnd,
  recordKey,
  recordPrefix,
  STATE_END,
  STATE_PREFIX,
  storedBytes,
  withRecordId,
} from './record-codec.js';
import { OutboxIndex, type OutboxChange, type OutboxEntry } from './outbox.js';
import { Pruner } from './pruner.js';
import { DEFAULT_DELIVERED_COMPACTION, DeliveredCompaction, type CompactableStore, type DeliveredCompactionOptions } from './delivered-compaction.js';
import { CommittedTail, DEFAULT_TAIL_LIMITS, type CommittedTailLimits } from './committed-tail.js';
import {
  LANES,
  type AppendOptions,
  type AppendOutcome,
  type BatchOp,
  type Conservation,
  type DeadLetter,
  type DurableBuffer,
  type Lane,
  type PendingReading,
  type BufferStats,
  type ReadOptions,
  type ReplacedDeadLetters,
  type StateWrite,
  type StoredRecord,
  type WhenFull,
} from './types.js';

export type { BatchOp };

export interface LevelBufferOptions {
  dir: string;
  /**
   * Makes the store (an unopened abstract-level database with utf8 values); absent means classic-level in
   * `dir`. Called again on each reopen, so a factory over one in-memory store keeps the data across reopens.
   */
  makeStore?: () => BufferStore;
  /** How many just-committed records stay in memory for the sink to read (tests make it small). */
  tailLimits?: CommittedTailLimits;
  gatewayId: string;
  durability: 'fsync' | 'os';
  commitIntervalMs: number;
  maxCommitRecords: number;
  /** Appends not committed within this time are rejected (not acked) instead of waiting forever. */
  commitTimeoutMs?: number;
  /** The buffer budget in bytes (keys plus stored values) and what happens when it is reached. */
  maxBytes?: number;
  whenFull?: WhenFull;
  /** Readings older than this are dropped (counted as `expired`); absent means no age limit. */
  maxAgeMs?: number;
  /** The sink whose cursors gate deletion (one sink per store for now). */
  sinkIds: readonly string[];
  logger?: Logger;
  /**
   * For operator tools on a stopped gateway: never move a damaged store aside and never drop anything
   * (no pruner); the store is only read, and written by explicit dead-letter commands.
   */
  inspectOnly?: boolean;
  /**
   * The notification outbox: every stored record `select` picks gets an entry (its id and JSON) in the same
   * batch as the record, kept until `removeOutbox`. At `maxEntries` the oldest entry is dropped for each new
   * one, in that batch too; `onDropped` is told how many once the batch is committed.
   */
  outbox?: { maxEntries: number; select: (r: PendingReading) => boolean; onDropped?: (n: number) => void };
  /** When removed records are compacted away (see DeliveredCompaction); `false` leaves it to LevelDB. */
  compaction?: Omit<DeliveredCompactionOptions, 'logger'> | false;
}

/**
 * Deliveries (cursor moves and deletions) are fsynced at most this often: a power cut then resends at most
 * about this much of what Kinesis had accepted, and a drain no longer costs an fsync per call.
 */
const DELIVERY_SYNC_MS = 1_000;
// Larger gaps are not damage (a damaged LevelDB block holds ~4 KiB, a dozen records): drops or failed commits.
const MAX_GAP_PROBE = 1_000;

const byLane = <T>(make: () => T): Record<Lane, T> => ({ alarm: make(), telemetry: make() });

/**
 * The durable buffer on LevelDB. Every write goes through one group commit, and every batch carries the
 * next-sequence pointers and the conservation ledger, so after any crash the ledger matches the data.
 * Startup reads metadata and seeks to the newest keys: it never scans the backlog.
 */
export class LevelBuffer implements DurableBuffer {
  db!: BufferStore;
  private readonly commit: GroupCommit<BatchOp>;
  private readonly logger: Logger;
  private readonly warnings: RateLimitedLog;
  /** When the last synced batch started (epoch ms): deliveries sync again DELIVERY_SYNC_MS after it. */
  private lastSyncAt = 0;
  /** The last batch was written without a sync it would otherwise have had (a delivery). */
  private unsynced = false;
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
  private nextSeq = 1;
  private nextDeadLetter = 1;
  /** The ledger as of everything submitted; each batch persists the snapshot taken when it is cut. */
  readonly ledger: Conservation = emptyConservation();
  private deadLettersStored = 0;
  private readonly lastCommitted = byLane(() => 0);
  private readonly cursors = new Map<string, number>();
  /** Highest sequence handed to the default reader, per lane: the pruner drops only what no reader holds. */
  readonly readHigh = byLane(() => 0);
  /** Lowest sequence a live reader has asked for: the pruner leaves it and everything above alone. */
  readonly liveFrom = byLane(() => Infinity);
  /** The pruner never looks below this again (everything up to it was dropped or is held by a reader). */
  readonly dropFloor = byLane(() => 0);
  /** Sequence ranges the pruner dropped; reads in flight filter them out. */
  readonly droppedRanges = byLane((): Array<[number, number]> => []);
  private readonly recordWaiters = new Waiters();
  private readonly tail: CommittedTail;
  private spaceWaiters = new Set<() => void>();
  private pruner: Pruner | null = null;
  /** Compacts what deliveries removed, so its table files go (absent for stores without compactRange). */
  private compaction: DeliveredCompaction | null = null;
  private readonly outbox: OutboxIndex;
  /** Bumped after each commit that added outbox entries; a waiting deliverer compares against it. */
  private outboxCommits = 0;
  private readonly outboxWaiters = new Waiters();
  private reopening: Promise<void> | null = null;
  private degraded: string | null = null;
  private closed = false;

  constructor(private readonly opts: LevelBufferOptions) {
    this.tail = new CommittedTail(opts.tailLimits ?? DEFAULT_TAIL_LIMITS);
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.warnings = new RateLimitedLog(this.logger);
    this.maxBytes = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.whenFull = opts.whenFull ?? 'block';
    this.commit = new GroupCommit<BatchOp>({
      intervalMs: opts.commitIntervalMs,
      maxOps: opts.maxCommitRecords,
      writeTimeoutMs: opts.commitTimeoutMs ?? 30_000,
      write: (ops, sync) => this.writeBatch(ops, sync),
    });
    this.outbox = new OutboxIndex(opts.outbox?.maxEntries ?? Number.MAX_SAFE_INTEGER);
  }

  async open(): Promise<void> {
    if (!this.opts.inspectOnly && !this.opts.makeStore) {
      const { mode } = await ensurePrivateDir(this.opts.dir);
      if ((mode & 0o077) !== 0) {
        this.logger.warn({ dataDir: this.opts.dir, mode: mode.toString(8) }, 'the buffer directory is open to other users; `chmod 700` it so only tidegate\'s user can read the buffered readings');
      }
    }
    const make = (): BufferStore => this.makeDb();
    const store = this.opts.inspectOnly ? await openForInspection(this.opts.dir, make) : await openStore(this.opts.dir, make);
    this.db = store.db;
    if (store.quarantinedTo) {
      this.degraded = `the buffer in ${this.opts.dir} was damaged (${store.reason}); it was moved to ${store.quarantinedTo} and tidegate started with an empty buffer`;
      this.logger.error({ dataDir: this.opts.dir, quarantinedTo: store.quarantinedTo, reason: store.reason }, `${this.degraded}; readings in the damaged copy were not forwarded`);
    }
    let lastSeq = 0;
    for (const lane of LANES) {
      this.lastCommitted[lane] = await this.lastKey(recordPrefix(lane), recordEnd(lane));
      lastSeq = Math.max(lastSeq, this.lastCommitted[lane]);
    }
    this.nextSeq = Math.max(Number((await this.db.get(META_NEXT_SEQ)) ?? 1), lastSeq + 1);
    // What is on disk from before is read from the store; the tail holds what this process commits.
    this.tail.reset(this.nextSeq - 1);
    const lastDeadLetter = await this.lastKey(DEAD_LETTER_PREFIX, DEAD_LETTER_END);
    this.nextDeadLetter = Math.max(Number((await this.db.get(META_NEXT_DEAD_LETTER)) ?? 1), lastDeadLetter + 1);
    for (const sinkId of this.opts.sinkIds) {
      for (const lane of LANES) this.cursors.set(`${sinkId}!${lane}`, Number((await this.db.get(metaCursorKey(sinkId, lane))) ?? 0));
    }
    for (const lane of LANES) this.readHigh[lane] = this.minCursor(lane);
    const ledger = parseConservation(await this.db.get(META_CONSERVATION)) ?? (await this.rebuildLedger());
    Object.assign(this.ledger, ledger);
    await this.loadOutbox();
    const stored = await this.db.get(META_DEAD_LETTERS_STORED);
    this.deadLettersStored = stored !== undefined ? Number(stored) : await this.countDeadLetters();
    if (!this.opts.inspectOnly) {
      this.pruner = new Pruner(this, { maxAgeMs: this.opts.maxAgeMs, logger: this.logger });
      this.pruner.start();
      const compaction = this.opts.compaction ?? DEFAULT_DELIVERED_COMPACTION;
      if (compaction && this.db.supports.additionalMethods['compactRange']) {
        this.compaction = new DeliveredCompaction(() => this.db as unknown as CompactableStore, { ...compaction, logger: this.logger });
      }
    }
  }

  // A small block cache: the buffer reads what it wrote moments ago (mostly from the memtable) once.
  private makeDb(): BufferStore {
    if (this.opts.makeStore) return this.opts.makeStore();
    return new Level<string, string>(this.opts.dir, { valueEncoding: 'utf8', cacheSize: 2 * 1024 * 1024 });
  }

  /**
   * Not an async function, nor is `store`: suspended at an await until the commit, an async function would
   * keep the readings and their encoded bodies alive with its parameters and locals, though only the records
   * are needed once they are encoded. In a burst a commit is a young-generation collection or two away, so
   * each reading was copied by the scavenger and often promoted (issue "Pi-class efficiency").
   */
  append(readings: readonly PendingReading[], appendOpts: AppendOptions = {}): Promise<AppendOutcome> {
    try {
      if (this.closed) throw closedError();
      const replaced = appendOpts.replaces;
      const extra = replaced ? mergeDelta(appendOpts.ledger ?? {}, replacedDelta(replaced)) : appendOpts.ledger;
      // Dead letters a transform made join the same batch: the ledger delta counts them (as deadLettered).
      const made = appendOpts.deadLetters ?? [];
      const stateOps = [
        ...toStateOps(appendOpts.state),
        ...made.map((entry): BatchOp => ({ type: 'put', key: deadLetterKey(this.nextDeadLetter++), value: JSON.stringify(entry) })),
        ...(replaced?.numbers ?? []).map((n): BatchOp => ({ type: 'del', key: deadLetterKey(n) })),
      ];
      // The change in how many dead letters the store holds: those made, less those replayed.
      const deadStored = made.length - (replaced?.numbers.length ?? 0);
      if (readings.length === 0) {
        // Nothing to store, but the counts (readings a transform filtered or consumed) and the state that
        // accounts for them are durable before anyone acks.
        const committed = extra || stateOps.length > 0 ? this.submit(stateOps, extra, deadStored) : Promise.resolve();
        appendOpts.onSubmitted?.();
        return committed.then(() => 'stored');
      }
      const lane: Lane = readings.some((r) => r.lane === 'alarm') ? 'alarm' : 'telemetry';
      const bodies = readings.map(encodeRecordBody);
      let estimate = 0;
      for (let i = 0; i < readings.length; i++) estimate += estimateStoredBytes(bodies[i]!, readings[i]!.deviceId, this.opts.gatewayId);
      const batch: PendingAppend = { readings, bodies, extra, stateOps, deadStored, onSubmitted: appendOpts.onSubmitted };
      if (this.ledger.bufferedBytes + estimate > this.maxBytes && this.ledger.buffered > 0) return this.appendWhenFull(batch, estimate, lane, replaced !== undefined);
      return this.store(batch);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Over budget: waits, drops or makes room as `whenFull` says, then stores (re-checked after every wait). */
  private async appendWhenFull(batch: PendingAppend, estimate: number, lane: Lane, isReplay: boolean): Promise<AppendOutcome> {
    // Several blocked appends may wake for the space one delivery freed.
    while (this.ledger.bufferedBytes + estimate > this.maxBytes && this.ledger.buffered > 0) {
      // A replay must not turn kept dead letters into dropped readings: it fails, and they stay where they are.
      if (isReplay && this.whenFull === 'drop_newest' && lane !== 'alarm') throw this.fullError();
      if ((await this.onFull(batch.readings.length, estimate, lane, batch.extra, batch.stateOps, batch.deadStored, batch.onSubmitted)) === 'dropped') return 'dropped';
      if (this.whenFull !== 'block') break;
    }
    return this.store(batch);
  }

  /** Encodes the records, submits them with the batch's ledger change and state; resolves once committed. */
  private store({ readings, bodies, extra, stateOps, deadStored, onSubmitted }: PendingAppend): Promise<AppendOutcome> {
    const lastByLane: Partial<Record<Lane, number>> = {};
    const ops: BatchOp[] = [];
    const notify: Array<{ seq: number; json: string }> = [];
    const written: Record<Lane, StoredRecord[]> = { alarm: [], telemetry: [] };
    let bytes = 0;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const seq = this.nextSeq++;
      const recordLane = r.lane ?? 'telemetry';
      const key = recordKey(recordLane, seq);
      lastByLane[recordLane] = seq;
      const value = encodeStoredRecord(r.deviceId, this.opts.gatewayId, seq, bodies[i]!);
      const record = storedRecordOf(recordLane, seq, key, r.deviceId, value);
      bytes += record.bytes;
      ops.push({ type: 'put', key, value });
      written[recordLane].push(record);
      if (this.opts.outbox?.select(r)) notify.push({ seq, json: withRecordId(this.opts.gatewayId, seq, bodies[i]!) });
    }
    for (const op of stateOps) ops.push(op);
    // The outbox entries join the records' batch: a committed alarm always has its notification waiting.
    const change = notify.length > 0 ? this.outbox.add(notify) : null;
    if (change) ops.push(...change.ops);
    const submitted = this.submit(ops, mergeDelta({ received: readings.length, buffered: readings.length, bufferedBytes: bytes }, extra), deadStored);
    // Into the tail once written, before anyone is told they are committed (this reaction runs first). A
    // failed write resets the tail instead (in submit).
    submitted.then(
      () => {
        for (const l of LANES) if (written[l].length > 0) this.tail.add(l, written[l]);
      },
      () => undefined,
    );
    const committed = change ? submitted.then(() => this.outboxCommitted(change), (err: unknown) => (this.outbox.undo(change), Promise.reject(err))) : submitted;
    onSubmitted?.();
    // The pruner starts once the ledger counts these bytes, so it sees the overshoot they cause.
    if (this.whenFull === 'drop_oldest' && this.ledger.bufferedBytes > this.maxBytes) this.pruner?.kick();
    return committed.then(() => {
      for (const l of LANES) if (lastByLane[l] !== undefined) this.markCommitted(l, lastByLane[l]);
      return 'stored';
    });
  }

  async appendDeadLetter(entry: DeadLetter): Promise<void> {
    if (this.closed) throw closedError();
    await this.submit([{ type: 'put', key: deadLetterKey(this.nextDeadLetter++), value: JSON.stringify(entry) }], { received: 1, deadLettered: { [entry.reason]: 1 } }, 1);
  }

  async deadLetterRecord(record: StoredRecord, reason: string, message: string, source: string): Promise<void> {
    const entry: DeadLetter = { reason, message, source, origin: record.partitionKey, receivedAt: Date.now(), payloadBase64: record.data.toString('base64') };
    // The record leaves in the same batch: after a crash it must not be read, and dead-lettered, again.
    await this.submit(
      [
        { type: 'put', key: deadLetterKey(this.nextDeadLetter++), value: JSON.stringify(entry) },
        { type: 'del', key: recordKey(record.lane, record.seq) },
      ],
      { buffered: -1, bufferedBytes: -Math.min(record.bytes, this.ledger.bufferedBytes), deadLettered: { [reason]: 1 } },
      1,
    );
    this.wakeSpace();
  }

  async read(lane: Lane, afterSeq: number, max: number, opts: ReadOptions = {}): Promise<StoredRecord[]> {
    // Only committed records are visible: a sink must never send what could still be lost.
    const upTo = Math.min(this.lastCommitted[lane], opts.upTo ?? Infinity);
    this.noteReached(lane, afterSeq);
    if (opts.reader === 'live') this.liveFrom[lane] = Math.min(this.liveFrom[lane], afterSeq + 1);
    else if (afterSeq >= this.liveFrom[lane]) this.liveFrom[lane] = Infinity; // the default reader has caught up
    if (upTo <= afterSeq) return [];
    const recent = this.tail.read(lane, afterSeq, upTo, max);
    if (recent) return this.noteKept(lane, this.keptOf(lane, recent, opts));
    let entries: Array<[string, Buffer]>;
    try {
      entries = await this.db.iterator<string, Buffer>({ gt: recordKey(lane, afterSeq), lte: recordKey(lane, upTo), limit: max, valueEncoding: 'buffer', ...BULK_READ }).all();
    } catch (err) {
      if ((err as { code?: string }).code !== 'LEVEL_CORRUPTION') throw err;
      entries = await this.probe(lane, afterSeq, upTo, max, err as Error);
    }
    if (entries.length > 0) entries = await this.checkGaps(lane, afterSeq, entries);
    const out: StoredRecord[] = [];
    for (const [key, value] of entries) {
      try {
        out.push(decodeStoredValue(lane, key, value));
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        await this.deadLetterDamaged(key, value, err.message);
      }
    }
    shareReadBuffers(out);
    return this.noteKept(lane, this.keptOf(lane, out, opts));
  }

  /** The tail learns how far the reads have come (it keeps records only while a reader is within reach). */
  private noteKept(lane: Lane, records: StoredRecord[]): StoredRecord[] {
    if (records.length > 0) this.noteReached(lane, records[records.length - 1]!.seq);
    return records;
  }

  /**
   * A reader at its lane's last commit has reached every sequence committed so far, since the sequences in
   * between are the other lane's. Without this, a lane of rare records (alarms) would always look far behind.
   */
  private noteReached(lane: Lane, seq: number): void {
    this.tail.noteRead(lane, seq >= this.lastCommitted[lane] ? Math.max(seq, this.lastCommitted.alarm, this.lastCommitted.telemetry) : seq);
  }

  private keptOf(lane: Lane, records: StoredRecord[], opts: ReadOptions): StoredRecord[] {
    const kept = this.withoutDropped(lane, records);
    if (kept.length > 0 && opts.reader !== 'live') this.readHigh[lane] = Math.max(this.readHigh[lane], kept[kept.length - 1]!.seq);
    return kept;
  }

  /** When the oldest reading not yet delivered was received (epoch ms), or null when nothing waits. */
  async oldestUndeliveredAt(): Promise<number | null> {
    let oldest: number | null = null;
    for (const lane of LANES) {
      const at = await this.oldestOf(lane);
      if (at !== null && (oldest === null || at < oldest)) oldest = at;
    }
    return oldest;
  }

  /** The received time of a lane's oldest record still in the buffer (null when the lane is empty). */
  private async oldestOf(lane: Lane): Promise<number | null> {
    const after = this.minCursor(lane);
    // The tail answers when it holds everything past the cursor (a sink that keeps up): health asks every
    // second, and a LevelDB seek past a churning range of deletes decompresses blocks each time (2 % of the
    // gateway's CPU at a steady 1,000 readings/s, profiled; issue "Pi-class efficiency").
    const recent = this.tail.read(lane, after, Infinity, 1);
    let data: Buffer;
    if (recent) {
      if (recent.length === 0) return null;
      data = recent[0]!.data;
    } else {
      const [entry] = await this.db.iterator<string, Buffer>({ gt: recordKey(lane, after), lt: recordEnd(lane), limit: 1, valueEncoding: 'buffer' }).all();
      if (!entry) return null;
      try {
        data = decodeStoredValue(lane, entry[0], entry[1]).data;
      } catch {
        // A damaged record says nothing about age; the reader dead-letters it.
        return null;
      }
    }
    try {
      const received = (JSON.parse(data.toString('utf8')) as { receivedAt?: number }).receivedAt;
      return typeof received === 'number' ? received : null;
    } catch {
      // A damaged record says nothing about age; the reader dead-letters it.
      return null;
    }
  }

  async readState(): Promise<Map<string, string>> {
    const state = new Map<string, string>();
    for await (const [key, value] of this.db.iterator({ gt: STATE_PREFIX, lt: STATE_END })) state.set(key.slice(STATE_PREFIX.length), value);
    return state;
  }

  /** The oldest `max` outbox entries that are committed, oldest first. */
  async readOutbox(max: number): Promise<OutboxEntry[]> {
    if (this.closed) throw closedError();
    const entries = await this.db.iterator({ gt: OUTBOX_PREFIX, lt: OUTBOX_END, limit: max }).all();
    return entries.map(([key, body]) => {
      const seq = keySeq(key);
      return { seq, id: `${this.opts.gatewayId}-${seq}`, body };
    });
  }

  /** Deletes an outbox entry (its notification was accepted, or refused for good); resolves once committed. */
  async removeOutbox(seq: number): Promise<void> {
    if (this.closed) throw closedError();
    const known = this.outbox.remove(seq);
    try {
      await this.submit([{ type: 'del', key: outboxKey(seq) }]);
    } catch (err) {
      if (known) this.outbox.restore([seq]);
      throw err;
    }
  }

  /** Outbox entries waiting (including those of batches being written). */
  get outboxSize(): number {
    return this.outbox.size;
  }

  /** A number that changes after every commit that added outbox entries (read it before `readOutbox`). */
  get outboxVersion(): number {
    return this.outboxCommits;
  }

  /** Resolves once a commit added outbox entries after `version` was read, or the buffer closes. */
  waitForOutbox(version: number, signal: AbortSignal): Promise<void> {
    return this.outboxWaiters.until(() => this.closed || this.outboxCommits !== version, signal);
  }

  head(lane: Lane): number {
    return this.lastCommitted[lane];
  }

  /** Appends waiting for space (whenFull: block): readings are held unacknowledged. */
  get waitingForSpace(): number {
    return this.spaceWaiters.size;
  }

  waitForRecords(after: Readonly<Record<Lane, number>>, signal: AbortSignal): Promise<void> {
    return this.recordWaiters.until(() => this.closed || LANES.some((lane) => this.lastCommitted[lane] > after[lane]), signal);
  }


  cursor(sinkId: string, lane: Lane): number {
    return this.cursors.get(`${sinkId}!${lane}`) ?? 0;
  }

  async commitCursor(sinkId: string, lane: Lane, seq: number, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void> {
    if (seq <= this.cursor(sinkId, lane)) return;
    const bytes = await this.remove(lane, handled, [{ type: 'put', key: metaCursorKey(sinkId, lane), value: String(seq) }]);
    // Moved once written: cursor() never reports a position whose records are still on disk.
    this.cursors.set(`${sinkId}!${lane}`, Math.max(seq, this.cursor(sinkId, lane)));
    this.compaction?.removed(lane, this.minCursor(lane), bytes);
  }

  async removeHandled(lane: Lane, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void> {
    // Removed ahead of the cursor: compacted once the cursor passes them, never a range that still holds records.
    const bytes = await this.remove(lane, handled, []);
    this.compaction?.removed(lane, this.minCursor(lane), bytes);
  }

  /**
   * One sink per store: what it handled is deleted in the same batch as its cursor and the ledger.
   * Returns the bytes of the delivered records it deleted.
   */
  private async remove(lane: Lane, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }, ops: BatchOp[]): Promise<number> {
    let bytes = 0;
    for (const r of handled.delivered) {
      ops.push({ type: 'del', key: recordKey(lane, r.seq) });
      bytes += r.bytes;
    }
    for (const r of handled.deadLettered) ops.push({ type: 'del', key: recordKey(lane, r.seq) });
    // A delivery need not be fsynced at once: lost in a power cut, its records are sent again (at least once),
    // never lost. One sync per DELIVERY_SYNC_MS bounds what a power cut resends, instead of an fsync per call.
    const sync = Date.now() - this.lastSyncAt >= DELIVERY_SYNC_MS;
    await this.submit(ops, { delivered: handled.delivered.length, buffered: -handled.delivered.length, bufferedBytes: -Math.min(bytes, this.ledger.bufferedBytes) }, 0, sync);
    this.wakeSpace();
    return bytes;
  }

  stats(): BufferStats {
    return {
      ...this.ledger,
      deadLettered: { ...this.ledger.deadLettered },
      dropped: { ...this.ledger.dropped },
      lastSeq: this.nextSeq - 1,
      deadLettersStored: this.deadLettersStored,
      commits: this.commit.commits,
      maxBytes: this.maxBytes,
      whenFull: this.whenFull,
      degraded: this.degraded,
    };
  }

  /**
   * Resolves once the compaction of delivered records has looked at every delivery so far. close() only
   * waits for the compaction running, so the stretch delivered during it is left for the next start; a
   * benchmark or test that measures the files left waits for this first.
   */
  async deliveredCompactionIdle(): Promise<void> {
    await this.compaction?.idle();
  }

  /** Resolves once every write submitted so far has landed or failed (used to re-read state after a failure). */
  async settled(): Promise<void> {
    await this.commit.drain();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pruner?.stop();
    const compactionStopped = this.compaction?.stop();
    this.wakeSpace();
    await this.reopening;
    // Everything already submitted is written before the store closes: those readings may be acked.
    await this.pruner?.idle();
    await this.commit.drain();
    // Deliveries written without a sync since the last one are made durable before the store closes.
    if (this.unsynced && !this.reopening) await this.submit([], {}, 0, true).catch(() => undefined);
    this.commit.stop();
    this.recordWaiters.wakeAll();
    this.outboxWaiters.wakeAll();
    // A compaction cannot be cancelled; the store closes once it has finished.
    await compactionStopped;
    await this.db.close();
  }

  /**
   * The one way to write: ops and the ledger change they make travel together through the group commit.
   * The change is applied now (budget decisions see it) and undone if the write fails, so the ledger never
   * counts what is not on disk.
   */
  submit(ops: BatchOp[], delta: LedgerDelta = {}, deadLettersStored = 0, sync = true): Promise<void> {
    applyDelta(this.ledger, delta);
    this.deadLettersStored += deadLettersStored;
    if (this.tail.size > 0) this.forgetDeleted(ops);
    return this.commit.submit(ops, sync).catch((err: unknown) => {
      // The write may or may not have landed (a timeout): the tail no longer knows what the store holds.
      this.tail.reset(this.nextSeq - 1);
      applyDelta(this.ledger, delta, -1);
      this.deadLettersStored -= deadLettersStored;
      this.onWriteFailure(err);
      return Promise.reject(writeError(err));
    });
  }

  /** Every record a batch deletes leaves the tail when the delete is submitted, whoever deletes it. */
  private forgetDeleted(ops: readonly BatchOp[]): void {
    for (const op of ops) {
      if (op.type !== 'del' || !op.key.startsWith('r!')) continue;
      this.tail.remove(op.key.startsWith(recordPrefix('alarm')) ? 'alarm' : 'telemetry', keySeq(op.key));
    }
  }

  minCursor(lane: Lane): number {
    let min = Infinity;
    for (const sinkId of this.opts.sinkIds) min = Math.min(min, this.cursor(sinkId, lane));
    return min === Infinity ? this.lastCommitted[lane] : min;
  }

  wakeSpace(): void {
    for (const wake of [...this.spaceWaiters]) wake();
  }

  /**
   * LevelDB keeps failing every write after some I/O errors (a failed sync or a failed background flush,
   * typically a full disk) until the store is reopened. Reopen with backoff; meanwhile writes fail fast, so
   * readings are not acknowledged and devices keep them, and the gateway stays up.
   */
  private onWriteFailure(err: unknown): void {
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    if (this.closed || this.reopening || (code !== 'LEVEL_IO_ERROR' && code !== 'LEVEL_CORRUPTION')) return;
    this.logger.error({ err: (err as Error).message }, 'writing to the buffer failed (is the disk full?): readings are not acknowledged until it works again; reopening the store');
    this.reopening = this.reopenUntilWritable().finally(() => {
      this.reopening = null;
    });
  }

  private async reopenUntilWritable(): Promise<void> {
    const backoff = new Backoff({ baseMs: 200, maxMs: 10_000 });
    while (!this.closed) {
      await delay(backoff.next());
      if (this.closed) return;
      await this.db.close().catch(() => undefined);
      try {
        this.db = this.makeDb();
        await this.db.open();
        // Probe with a real synced write: the disk may still be full.
        // `sync` is classic-level's option; abstract-level passes it through to the store.
        await this.db.put(META_NEXT_SEQ, String(this.nextSeq), { sync: true } as Parameters<BufferStore['put']>[2]);
        this.logger.info('the buffer is writable again; acknowledging readings');
        return;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, retryInMs: backoff.attempts }, 'the buffer is still not writable');
      }
    }
  }

  /**
   * The buffer is over budget. `block` waits for space (the reading is not acknowledged meanwhile, so the
   * device keeps it and MQTT flow control slows it down); `drop_newest` drops the incoming readings, counted;
   * `drop_oldest` stores them and has the pruner drop the oldest unsent telemetry. Alarms are never the
   * ones dropped while telemetry is left.
   */
  private async onFull(count: number, bytes: number, lane: Lane, extra: LedgerDelta | undefined, stateOps: BatchOp[], deadLetters: number, onSubmitted?: () => void): Promise<AppendOutcome> {
    if (this.whenFull === 'drop_newest' && lane !== 'alarm') {
      this.warnings.warn('drop_newest', { dropped: count, bufferedBytes: this.ledger.bufferedBytes, maxBytes: this.maxBytes }, 'buffer full (buffer.whenFull: drop_newest): new readings dropped and counted');
      // The readings are dropped, but what the transforms consumed on the way is kept, with its state.
      const committed = this.submit(stateOps, mergeDelta({ received: count, dropped: { buffer_full: count } }, extra), deadLetters);
      onSubmitted?.();
      await committed;
      return 'dropped';
    }
    if (this.whenFull === 'block') {
      await this.waitForSpace(bytes);
      return 'stored';
    }
    return 'stored';
  }

  private fullError(detail = ''): TidegateError {
    return new TidegateError('ERR_QUEUE_FULL', `the buffer is full (${this.ledger.bufferedBytes} of ${this.maxBytes} bytes)${detail}`, { retryable: true });
  }

  private waitForSpace(bytes: number): Promise<void> {
    const fits = (): boolean => this.ledger.bufferedBytes + bytes <= this.maxBytes || this.ledger.buffered === 0;
    if (fits()) return Promise.resolve();
    this.warnings.warn('block', { bufferedBytes: this.ledger.bufferedBytes, maxBytes: this.maxBytes }, 'buffer full (buffer.whenFull: block): acknowledgements wait until readings are delivered');
    const timeoutMs = this.opts.commitTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.spaceWaiters.delete(wake);
        if (err) reject(err);
        else resolve();
      };
      const wake = (): void => {
        if (this.closed) done(closedError());
        else if (fits()) done();
      };
      const timer = setTimeout(() => done(this.fullError(` and no space was freed within ${timeoutMs} ms`)), timeoutMs);
      this.spaceWaiters.add(wake);
    });
  }

  /**
   * Filters out records the pruner dropped while this read was under way (it deletes them in a batch that
   * may land after the read began). Ranges behind every cursor can no longer be read and are forgotten.
   */
  private withoutDropped(lane: Lane, records: StoredRecord[]): StoredRecord[] {
    const cursor = this.minCursor(lane);
    const ranges = (this.droppedRanges[lane] = this.droppedRanges[lane].filter(([, last]) => last > cursor));
    if (ranges.length === 0) return records;
    return records.filter((r) => !ranges.some(([first, last]) => r.seq >= first && r.seq <= last));
  }

  /**
   * LevelDB's iterator silently skips a data block it cannot decode (it does not surface the error), so a
   * damaged block shows up as a gap in the sequence. Gaps are rare in a lane (an alarm between readings, a
   * failed commit, a drop); each missing key is looked up once: a lookup that fails as corrupt means the
   * record was lost to damage, and it is counted and dead-lettered instead of vanishing.
   */
  private async checkGaps(lane: Lane, afterSeq: number, entries: Array<[string, Buffer]>): Promise<Array<[string, Buffer]>> {
    let expected = Math.max(afterSeq, this.dropFloor[lane]) + 1;
    const recovered: Array<[string, Buffer]> = [];
    for (const [key] of entries) {
      const seq = keySeq(key);
      if (seq > expected && seq - expected <= MAX_GAP_PROBE) {
        for (let missing = expected; missing < seq; missing++) {
          const found = await this.lookup(lane, missing);
          if (found) recovered.push(found);
        }
      }
      expected = seq + 1;
    }
    if (recovered.length === 0) return entries;
    return [...entries, ...recovered].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** One key: its value, nothing (a legitimate gap), or a dead letter when it cannot be read. */
  private async lookup(lane: Lane, seq: number): Promise<[string, Buffer] | null> {
    const key = recordKey(lane, seq);
    try {
      const value = await this.db.get<string, Buffer>(key, { valueEncoding: 'buffer' });
      return value === undefined ? null : [key, value];
    } catch (err) {
      if ((err as { code?: string }).code !== 'LEVEL_CORRUPTION') throw err;
      await this.deadLetterDamaged(key, null, `unreadable: ${(err as Error).message}`);
      return null;
    }
  }

  /** Reads one record at a time past a damaged region, so one bad block cannot wedge the sink. */
  private async probe(lane: Lane, afterSeq: number, upTo: number, max: number, cause: Error): Promise<Array<[string, Buffer]>> {
    const found: Array<[string, Buffer]> = [];
    this.logger.error({ lane, afterSeq, err: cause.message }, 'reading the buffer failed as corrupt; reading record by record past the damage');
    for (let seq = afterSeq + 1; seq <= upTo && found.length < max && seq <= afterSeq + Math.max(MAX_GAP_PROBE, max * 4); seq++) {
      const entry = await this.lookup(lane, seq);
      if (entry) found.push(entry);
    }
    return found;
  }

  private async deadLetterDamaged(key: string, value: Buffer | null, message: string): Promise<void> {
    this.logger.error({ key, err: message }, 'a damaged record in the buffer was moved to the dead letters');
    const entry: DeadLetter = { reason: 'damaged', message, source: 'buffer', origin: key, receivedAt: Date.now(), ...(value ? { payloadBase64: value.toString('base64') } : {}) };
    await this.submit(
      [
        { type: 'put', key: deadLetterKey(this.nextDeadLetter++), value: JSON.stringify(entry) },
        { type: 'del', key },
      ],
      { buffered: -1, bufferedBytes: -Math.min(key.length + (value?.length ?? 0), this.ledger.bufferedBytes), deadLettered: { damaged: 1 } },
      1,
    );
  }

  /**
   * One atomic batch per group commit: the ops plus the next-sequence pointers and the ledger as of the
   * moment the batch is cut. The pointers may run ahead of this batch's records (appends that joined the
   * next batch already took numbers); a gap is harmless, a reused sequence would not be.
   */
  private writeBatch(ops: BatchOp[], sync: boolean): Promise<void> {
    if (this.reopening) return Promise.reject(new TidegateError('ERR_QUEUE_WRITE', 'the buffer is being reopened after a write failure', { retryable: true }));
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === 'del') batch.del(op.key);
      else if (typeof op.value === 'string') batch.put(op.key, op.value);
      else batch.put<string, Buffer>(op.key, op.value, { valueEncoding: 'buffer' });
    }
    batch.put(META_NEXT_SEQ, String(this.nextSeq));
    batch.put(META_NEXT_DEAD_LETTER, String(this.nextDeadLetter));
    batch.put(META_CONSERVATION, JSON.stringify(this.ledger));
    batch.put(META_DEAD_LETTERS_STORED, String(this.deadLettersStored));
    const synced = sync && this.opts.durability === 'fsync';
    const startedAt = Date.now();
    return batch.write({ sync: synced }).then(() => {
      if (synced) this.lastSyncAt = Math.max(this.lastSyncAt, startedAt);
      this.unsynced = this.opts.durability === 'fsync' && !synced;
    });
  }

  private outboxCommitted(change: OutboxChange): void {
    this.outboxCommits += 1;
    this.outboxWaiters.wakeAll();
    if (change.droppedCount > 0) this.opts.outbox?.onDropped?.(change.droppedCount);
  }

  /** The outbox index at open. Entries left by a config that had a webhook wait until one is configured again. */
  private async loadOutbox(): Promise<void> {
    const seqs: number[] = [];
    for await (const key of this.db.keys({ gt: OUTBOX_PREFIX, lt: OUTBOX_END })) seqs.push(keySeq(key));
    this.outbox.load(seqs);
    if (seqs.length > 0 && !this.opts.outbox && !this.opts.inspectOnly) {
      this.logger.warn({ waiting: seqs.length }, 'alarm webhook notifications wait in the outbox but no webhook is configured (alarms.notify.webhook); they are kept and sent once one is');
    }
  }

  private markCommitted(lane: Lane, last: number): void {
    if (last > this.lastCommitted[lane]) this.lastCommitted[lane] = last;
    this.recordWaiters.wakeAll();
  }

  private async lastKey(gt: string, lt: string): Promise<number> {
    const keys = await this.db.keys({ gt, lt, reverse: true, limit: 1 }).all();
    return keys.length > 0 ? keySeq(keys[0]!) : 0;
  }

  private async countDeadLetters(): Promise<number> {
    let n = 0;
    for await (const _ of this.db.keys({ gt: DEAD_LETTER_PREFIX, lt: DEAD_LETTER_END })) n += 1;
    return n;
  }

  /** A store without a ledger (written by an older version): count once, then keep the ledger. */
  private async rebuildLedger(): Promise<Conservation> {
    const ledger = emptyConservation();
    for (const lane of LANES) {
      for await (const [key, value] of this.db.iterator<string, Buffer>({ gt: recordPrefix(lane), lt: recordEnd(lane), valueEncoding: 'buffer' })) {
        ledger.buffered += 1;
        ledger.bufferedBytes += storedBytes(key, value);
      }
    }
    const deadLetters = await this.countDeadLetters();
    if (deadLetters > 0) ledger.deadLettered.unknown = deadLetters;
    ledger.received = ledger.buffered + deadLetters;
    return ledger;
  }
}

function closedError(): TidegateError {
  return new TidegateError('ERR_QUEUE_CLOSED', 'the buffer is closed (tidegate is shutting down)');
}

function writeError(err: unknown): TidegateError {
  if (err instanceof TidegateError) return err;
  return new TidegateError('ERR_QUEUE_WRITE', `writing to the buffer failed: ${(err as Error).message}`, { cause: err, retryable: true });
}

/** Transform state lives under its own prefix, beside records (r!), dead letters (d!) and metadata (m!). */
function toStateOps(state: readonly StateWrite[] | undefined): BatchOp[] {
  if (!state || state.length === 0) return [];
  return state.map((op) => (op.type === 'put' ? { type: 'put', key: STATE_PREFIX + op.key, value: op.value } : { type: 'del', key: STATE_PREFIX + op.key }));
}

/** Replayed dead letters leave `deadLettered` and were received once already (the buffer counts what it stores). */
function replacedDelta(replaced: ReplacedDeadLetters): LedgerDelta {
  const deadLettered: Record<string, number> = {};
  for (const [reason, n] of Object.entries(replaced.reasons)) deadLettered[reason] = -n;
  return { received: -replaced.numbers.length, deadLettered };
}

/** An append's readings with their encoded bodies and what is committed with them, until it is stored. */
interface PendingAppend {
  readings: readonly PendingReading[];
  bodies: string[];
  extra: LedgerDelta | undefined;
  stateOps: BatchOp[];
  deadStored: number;
  onSubmitted: (() => void) | undefined;
}
