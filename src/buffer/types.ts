import type { Reading } from '../normalize/reading.js';

/**
 * Lanes, in drain order. Alarms go first and are the last ever dropped when the buffer is full; transforms
 * that raise alarms arrive later, the lane exists now so the store's layout does not have to change then.
 */
export type Lane = 'alarm' | 'telemetry';
export const LANES: readonly Lane[] = ['alarm', 'telemetry'];

/** A record as it sits in the buffer: the bytes that will be sent, addressed by lane and sequence. */
export interface StoredRecord {
  lane: Lane;
  seq: number;
  /** Kinesis partition key (the device id). */
  partitionKey: string;
  /** The encoded record exactly as it is forwarded (UTF-8 JSON). */
  data: Buffer;
  /** What the record counts against the buffer budget (key plus stored value). */
  bytes: number;
}

export interface DeadLetter {
  reason: string;
  message: string;
  source: string;
  origin: string;
  topic?: string;
  receivedAt: number;
  /** The payload as received, base64; absent when it was refused before being read (oversize packets). */
  payloadBase64?: string;
  /** Declared size in bytes, for payloads that were not kept. */
  declaredBytes?: number;
}

/**
 * The conservation ledger, persisted atomically with the data it describes, so that at all times
 * `received + produced = delivered + buffered + deadLettered + dropped + filtered + consumed` (each map summed
 * over its reasons).
 */
export interface Conservation {
  received: number;
  delivered: number;
  buffered: number;
  bufferedBytes: number;
  deadLettered: Record<string, number>;
  dropped: Record<string, number>;
  /** Readings a transform deliberately discarded. */
  filtered: number;
  /** Readings a stateful transform folded into its state (a window, a detector). */
  consumed: number;
  /** Records transforms made (aggregates, alarms); they are buffered and delivered like readings. */
  produced: number;
}

export interface BufferStats extends Conservation {
  /** Highest sequence handed out so far. */
  lastSeq: number;
  /** Dead letters currently kept (an operator can purge them; `deadLettered` keeps counting). */
  deadLettersStored: number;
  commits: number;
  maxBytes: number;
  whenFull: WhenFull;
  /** Why the store is degraded (for example it was quarantined at start), if it is. */
  degraded: string | null;
}

export type WhenFull = 'block' | 'drop_oldest' | 'drop_newest';

/** What became of an append: stored durably, or dropped by the full-buffer policy (and counted). */
export type AppendOutcome = 'stored' | 'dropped';

export interface PendingReading extends Reading {
  lane?: Lane;
}

/** What travels with an append besides its readings. */
export interface AppendOptions {
  /**
   * Ledger counts the readings account for (filtered, consumed, produced by transforms), written in the same
   * commit as the readings, or alone when none are left to store. The buffer counts each reading it is given
   * as received; the delta adjusts that (a produced record was not received).
   */
  ledger?: LedgerDelta;
  /**
   * Changes to the transforms' persisted state (window contents, last reported values) that account for
   * these readings, written in the same atomic batch: after a crash the state on disk matches exactly the
   * readings that were acknowledged. Later appends' changes to a key win (batches keep submission order).
   */
  state?: readonly StateWrite[];
  /** Inputs a transform dead-lettered, stored in the same batch (the ledger delta counts them). */
  deadLetters?: readonly DeadLetter[];
  /**
   * The dead letters these readings were replayed from (`tidegate dead-letters replay`): deleted in the same
   * batch, so a crash leaves either the dead letter or what the pipeline made of it, never both or neither.
   * They leave `deadLettered`, and, counted as received when they first came, are not received again.
   */
  replaces?: ReplacedDeadLetters;
  /**
   * Called once the append's writes have joined a commit batch (before that batch is written); never when
   * the append fails before that. Lets a caller keep state changes in submission order without holding its
   * lock through the fsync.
   */
  onSubmitted?: () => void;
}

/** Dead letters replayed into the pipeline: their numbers in the dead-letter area, and how many per reason. */
export interface ReplacedDeadLetters {
  readonly numbers: readonly number[];
  readonly reasons: Readonly<Record<string, number>>;
}

/** One change to persisted transform state; keys are namespaced by the transform chain. */
export type StateWrite = { readonly type: 'put'; readonly key: string; readonly value: string } | { readonly type: 'del'; readonly key: string };

export interface ReadOptions {
  upTo?: number;
  reader?: 'default' | 'live';
}

export interface DurableBuffer {
  open(): Promise<void>;
  /** Resolves once the readings are durably committed, or dropped by policy (the acknowledgement boundary). */
  append(readings: readonly PendingReading[], opts?: AppendOptions): Promise<AppendOutcome>;
  /** Keeps a message that could not become a reading, with its reason; counted as received and dead-lettered. */
  appendDeadLetter(entry: DeadLetter): Promise<void>;
  /** Moves a stored record that can never be delivered to the dead letters; it is no longer buffered. */
  deadLetterRecord(record: StoredRecord, reason: string, message: string, source: string): Promise<void>;
  /**
   * Up to `max` committed records of a lane with a sequence above `afterSeq` (and at most `upTo`), oldest
   * first. A `live` reader follows the newest records while the default reader works through a backlog.
   */
  read(lane: Lane, afterSeq: number, max: number, opts?: ReadOptions): Promise<StoredRecord[]>;
  /** The highest committed sequence of a lane. */
  head(lane: Lane): number;
  /** Resolves when a lane has a committed record above its position in `after`. */
  waitForRecords(after: Readonly<Record<Lane, number>>, signal: AbortSignal): Promise<void>;
  cursor(sinkId: string, lane: Lane): number;
  /**
   * Records the highest contiguous handled sequence of a lane for a sink and removes the records it handled:
   * delivered ones (counted as delivered) and those it moved to the dead letters (already counted there).
   * A `seq` at or below the current cursor is ignored.
   */
  commitCursor(sinkId: string, lane: Lane, seq: number, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void>;
  /** Removes records a live reader handled ahead of the cursor, counted like commitCursor's, the cursor unmoved. */
  removeHandled(lane: Lane, handled: { delivered: readonly StoredRecord[]; deadLettered: readonly StoredRecord[] }): Promise<void>;
  /** Every persisted transform-state entry (key as written by `append`'s `state`), read once at start. */
  readState(): Promise<Map<string, string>>;
  /** Resolves once every write submitted so far has landed or failed. */
  settled(): Promise<void>;
  stats(): BufferStats;
  close(): Promise<void>;
}

/** A change to the ledger that travels with the write it describes, and is undone if that write fails. */
export interface LedgerDelta {
  received?: number;
  delivered?: number;
  buffered?: number;
  bufferedBytes?: number;
  deadLettered?: Record<string, number>;
  dropped?: Record<string, number>;
  filtered?: number;
  consumed?: number;
  produced?: number;
}

/** One write of an atomic store batch. */
/** A record's value is bytes (encoded once, see record-codec); every other value is a string. */
export type BatchOp = { type: 'put'; key: string; value: string | Buffer } | { type: 'del'; key: string };
