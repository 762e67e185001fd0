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

export interface KinesisPort {
  putRecords(streamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]>;
  describeStream(streamName: string, signal: AbortSignal): Promise<{ status: string; shards: number }>;
  close(): void;
}
