import { outboxKey } from './record-codec.js';
import type { BatchOp } from './types.js';

/** One waiting notification: the record's sequence, its stable id (the Idempotency-Key) and its JSON. */
export interface OutboxEntry {
  readonly seq: number;
  readonly id: string;
  readonly body: string;
}

/** What an append adds to the outbox: the ops for its batch, and what to undo if that batch fails. */
export interface OutboxChange {
  readonly ops: BatchOp[];
  readonly added: readonly number[];
  readonly dropped: readonly number[];
  /** Entries the bound pushed out: old ones deleted, plus new ones of an oversized batch never written. */
  readonly droppedCount: number;
}

/**
 * The outbox's index in memory: the sequences of the entries written or being written, oldest first (appends
 * take sequences in order, so pushing keeps it sorted). It decides the bound without reading the store: at
 * `maxEntries`, each new entry pushes out the oldest one, deleted in the same batch that adds the new one, so
 * the store never holds more than the bound, even across a crash.
 */
export class OutboxIndex {
  private seqs: number[] = [];

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.seqs.length;
  }

  load(seqs: readonly number[]): void {
    this.seqs = [...seqs].sort((a, b) => a - b);
  }

  /** Ops that add `entries` (ascending sequences) and drop the oldest beyond the bound (new ones included). */
  add(entries: ReadonlyArray<{ seq: number; json: string }>): OutboxChange {
    const ops: BatchOp[] = [];
    const excess = Math.max(0, this.seqs.length + entries.length - this.maxEntries);
    const droppedOld = this.seqs.splice(0, Math.min(excess, this.seqs.length));
    for (const seq of droppedOld) ops.push({ type: 'del', key: outboxKey(seq) });
    // A batch larger than the bound keeps only its newest entries: the older ones are dropped unwritten.
    const skipNew = excess - droppedOld.length;
    const added: number[] = [];
    for (const [i, e] of entries.entries()) {
      if (i < skipNew) continue;
      ops.push({ type: 'put', key: outboxKey(e.seq), value: e.json });
      this.seqs.push(e.seq);
      added.push(e.seq);
    }
    return { ops, added, dropped: droppedOld, droppedCount: excess };
  }

  /** The batch with `change` failed: the store holds what it held before it. */
  undo(change: OutboxChange): void {
    const added = new Set(change.added);
    this.seqs = this.seqs.filter((s) => !added.has(s));
    this.restore(change.dropped);
  }

  /** Entries whose deletion failed: they are still in the store. */
  restore(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const known = new Set(this.seqs);
    this.seqs = [...this.seqs, ...seqs.filter((s) => !known.has(s))].sort((a, b) => a - b);
  }

  /** Forgets an entry; false when it is not (or no longer) in the outbox, dropped by the bound meanwhile. */
  remove(seq: number): boolean {
    const i = this.seqs.indexOf(seq);
    if (i < 0) return false;
    this.seqs.splice(i, 1);
    return true;
  }
}
