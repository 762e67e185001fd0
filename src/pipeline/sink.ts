import type { StoredRecord } from '../buffer/types.js';

/**
 * The Sink contract: one place records are delivered to (a Kinesis stream, a Firehose delivery stream, ...).
 *
 * A sink knows only its service: what fits one call (limits, aggregation, pacing), how to send it, and how
 * long to wait after a failure. Everything else is the dispatcher's (src/pipeline/dispatcher.ts), once for
 * every sink: reading the buffer past the cursor, live readings before the backlog, routing records to
 * sinks, one call in flight per split of partition keys, marking outcomes, dead-lettering what a sink
 * rejects, and committing the cursor so the buffer deletes what every sink has handled.
 *
 * The promise the two keep together: a record leaves the buffer only after a sink said `delivered` (or
 * `rejected`, and it is in the dead letters); `retry` leaves it where it is, to board a later call.
 */

/** A record the dispatcher has read and not yet handed back to the buffer. */
export interface Pending {
  record: StoredRecord;
  done: boolean;
  /** Part of a call in flight. */
  sending: boolean;
  /** Handled and already handed to the buffer for removal. */
  removed: boolean;
  /** Handled by moving it to the dead letters rather than by delivery. */
  deadLettered: boolean;
  /** When it was read from the buffer (performance.now(), whole ms): a partly filled call waits for its oldest member to be maxAgeMs old. */
  readAt?: number;
  /**
   * The dispatcher's split for it (sink × partition-key hash), decided the first time it is planned; -1 or
   * absent until then. Kept on the record because a paced drain plans every read-ahead record again each
   * cycle (issue "Pi-class efficiency": hashing 3,000 keys a cycle was most of a cycle's own cost).
   */
  split?: number;
}

/** What became of one record of a call. */
export type SendOutcome = 'delivered' | 'retry' | { readonly rejected: { readonly reason: string; readonly message: string } };

/** A call a sink planned: the records it carries (however the sink packs them), in boarding order. */
export interface SinkCall {
  readonly members: readonly Pending[];
}

export interface SinkPlan<C extends SinkCall> {
  /** The next call, or null when nothing can board now (pacing holds every candidate back). */
  call: C | null;
  /** Records this sink can never accept (over its record size): dead-lettered with the reason. */
  rejected: ReadonlyArray<{ pending: Pending; reason: string; message: string }>;
  /** When pacing held candidates back: how long until the sink expects room again (ms). */
  pausedForMs: number | null;
}

export interface Sink<C extends SinkCall = SinkCall> {
  /** Stable and unique among the dispatcher's sinks (`kinesis:<stream>`); names the sink in logs. */
  readonly id: string;
  /** Entries of one call at most (PutRecords: 500): how full a call is worth waiting for. */
  readonly maxEntriesPerCall: number;
  /** Records one call may take (more than its entries when it packs several into one): the read-ahead. */
  readonly recordsPerCall: number;
  /**
   * Set by a sink whose splits draw on one allowance (a paced Kinesis stream: every split writes to the same
   * shards). While its calls return within this many milliseconds (a moving average), its free splits are
   * planned as one call: that call carries every shard that is open, where each split's own call would
   * carry only the shards its keys write to, so a drain makes fewer, fuller calls (issue "Pi-class
   * efficiency"). When calls take longer, each split plans its own again, and a call that is out does not
   * keep the shards that open meanwhile waiting for it. Absent: each split always plans its own.
   */
  readonly quickCallMs?: number;
  /** Reads what the sink needs before the first call (a record limit, a shard map). */
  start(stopping: AbortSignal): Promise<void>;
  /** Once per dispatcher cycle, before planning: periodic upkeep (a shard map read again). */
  tick?(stopping: AbortSignal): void;
  /** Plans one call from the candidates of one split, in boarding order (alarms, live readings, backlog). */
  plan(candidates: readonly Pending[]): SinkPlan<C>;
  /**
   * Sends a planned call. Resolves, never rejects, with one outcome per member of `call.members`, once the
   * sink may be called again for the same split (any backoff after a failure is waited out inside, ended early
   * by `stopping`). `cut` aborts the call itself: at the shutdown deadline.
   */
  send(call: C, cut: AbortSignal, stopping: AbortSignal): Promise<readonly SendOutcome[]>;
}
