import agg from 'aws-kinesis-agg';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { createKinesisClient } from '../../src/sinks/kinesis/sdk-port.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/kinesis-local/emulator.js';

export interface StreamRecord {
  id: string;
  deviceId: string;
  seq?: number;
  receivedAt: number;
  values: Record<string, unknown>;
  shardId: string;
  /** The Kinesis record it came in: several readings share one when they were KPL-aggregated. */
  sequenceNumber: string;
  /** ApproximateArrivalTimestamp of that Kinesis record (epoch ms). */
  arrivedAt: number;
}

const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

/**
 * The readings in one Kinesis record. KPL aggregates are unpacked by `aws-kinesis-agg`, an independent
 * implementation of the format (its MD5 check included), so tests do not trust tidegate's own encoder.
 */
export function readingsOf(data: Uint8Array, partitionKey: string): Buffer[] {
  const buf = Buffer.from(data);
  if (!buf.subarray(0, 4).equals(KPL_MAGIC)) return [buf];
  let out: Buffer[] | null = null;
  let failure: unknown = null;
  agg.deaggregateSync({ data: buf.toString('base64'), partitionKey, approximateArrivalTimestamp: 0, sequenceNumber: '0' } as never, true, (err: unknown, records?: Array<{ data: string }>) => {
    if (err) failure = err;
    else out = (records ?? []).map((r) => Buffer.from(r.data, 'base64'));
  });
  if (failure || !out) throw new Error(`aggregated record did not de-aggregate: ${String(failure)}`);
  return out;
}

export function emulatorClient(endpoint: string): KinesisClient {
  return createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 10_000 });
}

/** Reads every shard from the start, once, and returns all records (GetRecords across all shards). */
export async function readWholeStream(client: KinesisClient, stream: string): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  for (const shard of shards) {
    let iterator = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of page.Records ?? []) {
        for (const data of readingsOf(r.Data!, r.PartitionKey!)) {
          out.push({ ...JSON.parse(data.toString('utf8')), shardId: shard.ShardId!, sequenceNumber: r.SequenceNumber!, arrivedAt: r.ApproximateArrivalTimestamp?.getTime() ?? 0 });
        }
      }
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** Polls the stream until `done(records)` holds or the timeout passes; returns the last read. */
export async function waitForStream(
  client: KinesisClient,
  stream: string,
  done: (records: StreamRecord[]) => boolean,
  timeoutMs = 30_000,
): Promise<StreamRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const records = await readWholeStream(client, stream);
    if (done(records) || Date.now() > until) return records;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `${deviceId}#${seq}` of a record: how tests name a device's reading. */
export const readingKey = (r: StreamRecord): string => `${r.deviceId}#${r.seq}`;

/** Waits until every expected reading is in the stream (or the timeout); returns the records and what is missing. */
export async function waitForReadings(client: KinesisClient, stream: string, expected: ReadonlySet<string>, timeoutMs = 60_000): Promise<{ records: StreamRecord[]; lost: string[] }> {
  const records = await waitForStream(client, stream, (r) => {
    const seen = new Set(r.map(readingKey));
    return [...expected].every((k) => seen.has(k));
  }, timeoutMs);
  const seen = new Set(records.map(readingKey));
  return { records, lost: [...expected].filter((k) => !seen.has(k)) };
}
