import type { Reading } from '../normalize/reading.js';

/** A record as it sits in the queue: the bytes that will be sent, addressed by its sequence. */
export interface StoredRecord {
  seq: number;
  /** Kinesis partition key (the device id). */
  partitionKey: string;
  /** The encoded record exactly as it is forwarded (UTF-8 JSON). */
  data: Buffer;
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

export interface QueueStats {
  /** Readings appended and not yet removed after delivery. */
  buffered: number;
  /** Highest sequence handed out so far. */
  lastSeq: number;
  deadLetters: number;
  commits: number;
}

export interface DurableQueue {
  open(): Promise<void>;
  /** Resolves once the readings are durably committed (the acknowledgement boundary). */
  append(readings: readonly Reading[]): Promise<void>;
  appendDeadLetter(entry: DeadLetter): Promise<void>;
  /** Up to `max` records with a sequence above `afterSeq`, oldest first. */
  read(afterSeq: number, max: number): Promise<StoredRecord[]>;
  /** Resolves when a record above `afterSeq` is committed. */
  waitForRecords(afterSeq: number, signal: AbortSignal): Promise<void>;
  cursor(sinkId: string): number;
  /** Records the highest contiguous delivered sequence for a sink and removes what every sink has passed. */
  commitCursor(sinkId: string, seq: number): Promise<void>;
  stats(): QueueStats;
  close(): Promise<void>;
}
