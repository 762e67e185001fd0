import type { ShardRange } from './shard-map.js';

/**
 * The narrow port the Kinesis sink talks through. The SDK adapter implements it; unit tests script it
 * (partial failures, whole-call errors) without a server.
 */
export interface PutEntry {
  partitionKey: string;
  data: Uint8Array;
}

/**
 * One result per entry, same length and order as the request (PutRecords response contract). Read only: a
 * port may hand the same accepted result to every entry of a shard. The sequence number an accepted record
 * got is not kept; nothing in the gateway reads it, and it was a string per reading (issue: Pi-class efficiency).
 */
export type PutEntryResult = { readonly ok: true; readonly shardId: string } | { readonly ok: false; readonly errorCode: string; readonly errorMessage: string };

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
