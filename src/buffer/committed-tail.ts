import type { Lane, StoredRecord } from './types.js';

/** How much of the newest committed records a lane keeps in memory; past either bound, the oldest go. */
export interface CommittedTailLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export const DEFAULT_TAIL_LIMITS: CommittedTailLimits = { maxRecords: 4_096, maxBytes: 2 * 1024 * 1024 };

/**
 * The records of the latest commits, kept in memory as they were written, so a sink that keeps up reads
 * them from here instead of reading back from LevelDB what it wrote moments earlier (the read and its
 * checksum were 5 % of the CPU of a burst; issue "Pi-class efficiency"). Older records, and everything after
 * a restart, are read from the store as before.
 *
 * The rule that keeps it exact: above a lane's `floor`, the tail holds every record the store holds, and no
 * other. Records join once their batch is written; a deleted record leaves when its delete is submitted; a
 * write whose outcome is unknown (it failed, or timed out and may still land) moves every floor past each
 * sequence handed out so far, so reads that start below it go to the store, which is the truth.
 */
export class CommittedTail {
  private readonly lanes: Record<Lane, LaneTail>;

  constructor(private readonly limits: CommittedTailLimits = DEFAULT_TAIL_LIMITS) {
    this.lanes = { alarm: new LaneTail(), telemetry: new LaneTail() };
  }

  /** Forgets everything: what was handed out up to `lastSeq` is only known to the store. */
  reset(lastSeq: number): void {
    for (const tail of Object.values(this.lanes)) tail.reset(lastSeq);
  }

  /** One written batch's records of a lane, in sequence order. Those at or below the floor are not kept. */
  add(lane: Lane, records: readonly StoredRecord[]): void {
    this.lanes[lane].add(records, this.limits);
  }

  /**
   * A sink's reader has read a lane up to `seq` (from memory or from the store). What the tail keeps depends
   * on how far behind the head the furthest reader is (see LaneTail.add).
   */
  noteRead(lane: Lane, seq: number): void {
    this.lanes[lane].noteRead(seq);
  }

  /** A record deleted from the store (delivered, dead-lettered, dropped). */
  remove(lane: Lane, seq: number): void {
    this.lanes[lane].remove(seq);
  }

  /**
   * The records after `afterSeq` up to `upTo`, at most `max`, as the store would return them; null when the
   * tail does not hold everything after `afterSeq` (then the store must be read).
   */
  read(lane: Lane, afterSeq: number, upTo: number, max: number): StoredRecord[] | null {
    return this.lanes[lane].read(afterSeq, upTo, max);
  }

  /** Records held, for tests and the status of memory use. */
  get size(): number {
    return this.lanes.alarm.size + this.lanes.telemetry.size;
  }
}

/**
 * One lane's tail: records in sequence order from `start`, with their sequences beside them; a deleted one
 * leaves a hole (null) until it is the oldest.
 */
class LaneTail {
  private slots: Array<StoredRecord | null> = [];
  private seqs: number[] = [];
  private start = 0;
  private held = 0;
  private bytes = 0;
  /** Every record of the lane above this sequence that the store holds, the tail holds. */
  private floor = Infinity;
  private last = 0;
  /** The furthest sequence a reader has read up to. */
  private reached = 0;

  get size(): number {
    return this.held;
  }

  reset(lastSeq: number): void {
    this.slots = [];
    this.seqs = [];
    this.start = 0;
    this.held = 0;
    this.bytes = 0;
    this.floor = lastSeq;
    this.last = lastSeq;
  }

  noteRead(seq: number): void {
    if (seq > this.reached) this.reached = seq;
  }

  add(records: readonly StoredRecord[], limits: CommittedTailLimits): void {
    const newest = records.length > 0 ? records[records.length - 1]!.seq : 0;
    if (newest - this.reached > limits.maxRecords) {
      // No reader is within a tail's length of these records. The sink is behind (a burst, an outage), and
      // records arrive faster than it reads: before a reader got to them they would have been let go for
      // newer ones, so the readers read them from the store either way. Not kept, and neither is anything
      // older (the floor moves past them all). Kept, each record was held for as long as the tail's length
      // took to arrive, long enough to be promoted to V8's old space and collected there, and in the bursts of
      // the end-to-end benchmark 70 % of them were read from the store anyway (issue "Pi-class efficiency").
      // Kept again once a reader is within reach.
      if (newest > this.floor) this.reset(newest);
      return;
    }
    for (const record of records) {
      if (record.seq <= this.floor || record.seq <= this.last) continue;
      this.slots.push(record);
      this.seqs.push(record.seq);
      this.last = record.seq;
      this.held += 1;
      this.bytes += record.bytes;
    }
    while (this.held > limits.maxRecords || this.bytes > limits.maxBytes) this.dropOldest();
  }

  remove(seq: number): void {
    if (seq <= this.floor) return;
    const i = this.indexAfter(seq - 1);
    const record = this.slots[i];
    if (record === undefined || record === null || record.seq !== seq) return;
    this.slots[i] = null;
    this.held -= 1;
    this.bytes -= record.bytes;
    this.trim();
  }

  read(afterSeq: number, upTo: number, max: number): StoredRecord[] | null {
    if (afterSeq < this.floor) return null;
    const out: StoredRecord[] = [];
    for (let i = this.indexAfter(afterSeq); i < this.slots.length && out.length < max; i++) {
      const record = this.slots[i]!;
      if (record === null) continue;
      if (record.seq > upTo) break;
      out.push(record);
    }
    return out;
  }

  /** The first slot whose sequence is above `seq`. */
  private indexAfter(seq: number): number {
    let lo = this.start;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private dropOldest(): void {
    const record = this.slots[this.start]!;
    this.held -= 1;
    this.bytes -= record.bytes;
    this.floor = record.seq;
    this.slots[this.start] = null;
    this.trim();
  }

  /**
   * Leading holes go: those records were deleted (or are below the floor now), so the store does not hold
   * them either. The arrays are compacted once most of them is behind `start`.
   */
  private trim(): void {
    while (this.start < this.slots.length && this.slots[this.start] === null) this.start += 1;
    if (this.start === this.slots.length) {
      this.slots = [];
      this.seqs = [];
      this.start = 0;
    } else if (this.start > 1_024 && this.start * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.start);
      this.seqs = this.seqs.slice(this.start);
      this.start = 0;
    }
  }
}
