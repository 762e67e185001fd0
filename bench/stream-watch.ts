import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/**
 * Follows every shard of a stream from its start and counts records, noting when each became visible:
 * the "visible in the stream" end of every end-to-end measurement.
 */
export class StreamWatch {
  count = 0;
  /** publish→visible latencies (ms), from the device's `ts` to the poll that returned the record. */
  readonly latencies: number[] = [];
  private iterators = new Map<string, string>();

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: string,
  ) {}

  async init(): Promise<void> {
    const shards = (await this.client.send(new ListShardsCommand({ StreamName: this.stream }))).Shards ?? [];
    for (const s of shards) {
      const it = await this.client.send(new GetShardIteratorCommand({ StreamName: this.stream, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
      this.iterators.set(s.ShardId!, it.ShardIterator!);
    }
  }

  /**
   * Polls until `target` records were seen or the deadline passes; returns the time the target was reached,
   * or null when it was not. `target` may be a function, read on every poll, for a count known only later.
   */
  async until(target: number | (() => number), deadlineMs: number, pollMs: number, keepLatency = false): Promise<number | null> {
    const goal = typeof target === 'number' ? () => target : target;
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      for (const [shard, iterator] of this.iterators) {
        const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        const now = Date.now();
        for (const r of page.Records ?? []) {
          this.count += 1;
          if (keepLatency) {
            const ts = (JSON.parse(Buffer.from(r.Data!).toString('utf8')) as { ts?: number }).ts;
            if (ts) this.latencies.push(now - ts);
          }
        }
        if (page.NextShardIterator) this.iterators.set(shard, page.NextShardIterator);
      }
      if (this.count >= goal()) return Date.now();
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return null;
  }
}

/** Ceiling (a): the emulator fed directly with 500-entry PutRecords calls, one call in flight. */
export async function putRecordsCeiling(client: KinesisClient, stream: string, total: number, recordBytes: number, devices: number): Promise<number> {
  const data = Buffer.alloc(recordBytes, 0x61);
  const started = performance.now();
  for (let sent = 0; sent < total; sent += 500) {
    const n = Math.min(500, total - sent);
    const out = await client.send(
      new PutRecordsCommand({ StreamName: stream, Records: Array.from({ length: n }, (_, i) => ({ Data: data, PartitionKey: `dev-${(sent + i) % devices}` })) }),
    );
    if (out.FailedRecordCount) throw new Error(`ceiling run: ${out.FailedRecordCount} entries failed`);
  }
  return total / ((performance.now() - started) / 1000);
}
