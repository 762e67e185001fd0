import type { ShardRange } from './shard-map.js';

/**
 * The narrow port the Kinesis sink talks through. The SDK adapter implements it; unit tests script it
 * (partial failures, whole-call errors) without a server.
 */
export interface PutEntry {
  partitionKey: string;
  data: Uint8Array;
}

/** One result per entry, same length and order as the request (PutRecords response contract). */
export type PutEntryResult = { ok: true; shardId: string; sequenceNumber: string } | { ok: false; errorCode: string; errorMessage: string };

export interface StreamSummary {
  status: string;
  shards: number;
  /** MaxRecordSizeInKiB × 1024 when the stream reports it (streams can be raised from 1 MiB to 10 MiB). */
  maxRecordBytes: number | null;
}

/** Writes a batch of records to a named destination (PutRecords, PutRecordBatch): one result per entry. */
export interface RecordPort {
  putRecords(name: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]>;
  close(): void;
}

/** What a Kinesis stream tells about itself: its record limit and its shards. */
export interface StreamPort {
  describeStream(streamName: string, signal: AbortSignal): Promise<StreamSummary>;
  /** Every shard of the stream with its hash key range (all pages of ListShards). */
  listShards(streamName: string, signal: AbortSignal): Promise<ShardRange[]>;
}

export interface KinesisPort extends RecordPort, StreamPort {}
