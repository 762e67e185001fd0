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
      for (const r of page.Records ?? []) out.push({ ...JSON.parse(Buffer.from(r.Data!).toString('utf8')), shardId: shard.ShardId! });
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
