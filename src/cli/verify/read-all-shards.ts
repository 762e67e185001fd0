import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import { delay } from '../../core/abort.js';
import { deaggregate } from '../../kinesis-agg/deaggregate.js';
import { isTidegateError } from '../../core/errors.js';

/** One user record as the stream holds it: de-aggregated, with where and when Kinesis took it. */
export interface StreamEntry {
  shardId: string;
  sequenceNumber: string;
  subSequence: number;
  partitionKey: string;
  data: Buffer;
  /** Kinesis's ApproximateArrivalTimestamp (epoch ms). */
  arrivedAt: number;
}

/** A Kinesis record that could not be de-aggregated (bad checksum, malformed protobuf). */
export interface UnreadableRecord {
  shardId: string;
  sequenceNumber: string;
  code: string;
  message: string;
}

export interface ReadOptions {
  /** Start at this time (AT_TIMESTAMP) instead of the oldest record (TRIM_HORIZON). */
  since?: Date;
  /** Stop reading after this long even if not caught up. */
  durationMs?: number;
  /** Bound on each Kinesis call. */
  callTimeoutMs: number;
}

export interface ShardRead {
  shardId: string;
  entries: StreamEntry[];
}

export interface StreamRead {
  /** Parents before children, so concatenating them keeps each key's order across a reshard. */
  shards: ShardRead[];
  unreadable: UnreadableRecord[];
  caughtUp: boolean;
}

// AWS allows 5 GetRecords calls per second per shard (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
const MIN_ROUND_MS = 200;
// Each call returns at most 10 MiB or 10,000 records.
const PAGE_LIMIT = 10_000;

/**
 * Reads every shard of the stream, closed parents of a reshard included, until each open shard is at its
 * tip (an empty page, nothing behind latest) and each closed one at its end, or until `durationMs`.
 */
export async function readAllShards(client: KinesisClient, stream: string, opts: ReadOptions, signal: AbortSignal): Promise<StreamRead> {
  const call = (): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(opts.callTimeoutMs)]);
  const shards = parentsFirst(await listAllShards(client, stream, call));
  const until = opts.durationMs === undefined ? Infinity : Date.now() + opts.durationMs;
  const reads = new Map<string, ShardRead>(shards.map((s) => [s.ShardId!, { shardId: s.ShardId!, entries: [] }]));
  const unreadable: UnreadableRecord[] = [];
  const iterators = new Map<string, string>();
  for (const s of shards) {
    const out = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: s.ShardId!,
        ...(opts.since ? { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: opts.since } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
      { abortSignal: call() },
    );
    if (out.ShardIterator) iterators.set(s.ShardId!, out.ShardIterator);
  }

  while (iterators.size > 0 && Date.now() < until) {
    const roundStarted = Date.now();
    let anyBehind = false;
    for (const [shardId, iterator] of iterators) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: PAGE_LIMIT }), { abortSignal: call() });
      for (const r of page.Records ?? []) {
        const sequenceNumber = r.SequenceNumber ?? '';
        try {
          for (const sub of deaggregate(r.Data ?? new Uint8Array(), r.PartitionKey ?? '')) {
            reads.get(shardId)!.entries.push({ shardId, sequenceNumber, subSequence: sub.subSequence, partitionKey: sub.partitionKey, data: sub.data, arrivedAt: r.ApproximateArrivalTimestamp?.getTime() ?? NaN });
          }
        } catch (err) {
          if (!isTidegateError(err)) throw err;
          unreadable.push({ shardId, sequenceNumber, code: err.code, message: err.message });
        }
      }
      const closedAndDone = !page.NextShardIterator;
      // An open shard is at its tip when a page is empty and nothing is behind; AWS may return empty pages earlier.
      const atTip = (page.Records?.length ?? 0) === 0 && (page.MillisBehindLatest ?? 0) === 0;
      if (closedAndDone) iterators.delete(shardId);
      else {
        iterators.set(shardId, page.NextShardIterator!);
        if (!atTip) anyBehind = true;
      }
    }
    if (!anyBehind) return { shards: shards.map((s) => reads.get(s.ShardId!)!), unreadable, caughtUp: true };
    const rest = MIN_ROUND_MS - (Date.now() - roundStarted);
    if (rest > 0) await delay(Math.min(rest, Math.max(0, until - Date.now())), signal);
  }
  return { shards: shards.map((s) => reads.get(s.ShardId!)!), unreadable, caughtUp: iterators.size === 0 };
}

async function listAllShards(client: KinesisClient, stream: string, call: () => AbortSignal): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }), { abortSignal: call() });
    out.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/** Orders shards so every parent (and adjacent parent of a merge) comes before its children. */
export function parentsFirst(shards: readonly Shard[]): Shard[] {
  const byId = new Map(shards.map((s) => [s.ShardId!, s]));
  const done = new Set<string>();
  const out: Shard[] = [];
  const visit = (s: Shard, depth: number): void => {
    if (done.has(s.ShardId!) || depth > shards.length) return;
    for (const p of [s.ParentShardId, s.AdjacentParentShardId]) {
      const parent = p ? byId.get(p) : undefined;
      if (parent) visit(parent, depth + 1);
    }
    done.add(s.ShardId!);
    out.push(s);
  };
  for (const s of shards) visit(s, 0);
  return out;
}
