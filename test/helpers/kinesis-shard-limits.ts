import { createHash } from 'node:crypto';
import { ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/** An open shard and the hash key range it owns (inclusive at both ends, as ListShards reports it). */
export interface ShardRange {
  shardId: string;
  start: bigint;
  end: bigint;
}

/** Kinesis's per-shard write limits (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html). */
export interface ShardLimits {
  recordsPerSecond: number;
  bytesPerSecond: number;
}
export const AWS_SHARD_LIMITS: ShardLimits = { recordsPerSecond: 1_000, bytesPerSecond: 1_048_576 };

/** The hash key of an entry: its ExplicitHashKey when given, else MD5(partition key) as a 128-bit unsigned integer. */
export function hashKeyOf(partitionKey: string, explicitHashKey?: string): bigint {
  if (explicitHashKey !== undefined) return BigInt(explicitHashKey);
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

export function shardFor(ranges: readonly ShardRange[], hashKey: bigint): string | undefined {
  return ranges.find((r) => r.start <= hashKey && hashKey <= r.end)?.shardId;
}

export interface SecondTally {
  records: number;
  bytes: number;
}

/** One shard-second of the ledger: what the client offered (accepted or refused) and what was accepted. */
export interface ShardSecond {
  shardId: string;
  second: number;
  offered: SecondTally;
  accepted: SecondTally;
}

/**
 * Per-shard token buckets refilled to the full limit at each wall-clock second boundary. A bucket with a
 * continuous refill would let up to twice the limit through inside one calendar second; this one keeps the
 * accepted tally exactly at or under the limit. Since it refuses the excess, the accepted tally says nothing
 * about the client: every entry offered is counted too (`offer`), and that is what a pacing test checks.
 */
export class ShardRateLimiter {
  /** shardId → epoch second → what was offered and what was accepted. */
  private readonly perSecond = new Map<string, Map<number, { offered: SecondTally; accepted: SecondTally }>>();

  constructor(
    public limits: ShardLimits | null,
    private readonly now: () => number = Date.now,
  ) {}

  private tally(shardId: string, second: number): { offered: SecondTally; accepted: SecondTally } {
    let seconds = this.perSecond.get(shardId);
    if (!seconds) this.perSecond.set(shardId, (seconds = new Map()));
    let t = seconds.get(second);
    if (!t) seconds.set(second, (t = { offered: { records: 0, bytes: 0 }, accepted: { records: 0, bytes: 0 } }));
    return t;
  }

  /** Counts one entry of `bytes` the client sent to the shard, whatever becomes of it. */
  offer(shardId: string, bytes: number, now = this.now()): void {
    const t = this.tally(shardId, Math.floor(now / 1000)).offered;
    t.records += 1;
    t.bytes += bytes;
  }

  /** Takes one record of `bytes` from the shard's bucket; false (nothing taken) when it would exceed a limit. */
  take(shardId: string, bytes: number, now = this.now()): { ok: true; second: number } | { ok: false } {
    const second = Math.floor(now / 1000);
    const t = this.tally(shardId, second).accepted;
    if (this.limits && (t.records + 1 > this.limits.recordsPerSecond || t.bytes + bytes > this.limits.bytesPerSecond)) return { ok: false };
    t.records += 1;
    t.bytes += bytes;
    return { ok: true, second };
  }

  /** Gives back what `take` counted, for entries the upstream did not accept after all (they stay offered). */
  refund(shardId: string, second: number, bytes: number): void {
    const t = this.tally(shardId, second).accepted;
    t.records -= 1;
    t.bytes -= bytes;
  }

  /** Per shard, per second, in order of shard then second. */
  ledger(): ShardSecond[] {
    return [...this.perSecond].flatMap(([shardId, seconds]) =>
      [...seconds].map(([second, t]) => ({ shardId, second, offered: { ...t.offered }, accepted: { ...t.accepted } })),
    );
  }

  /** The busiest second of any shard, offered or accepted: what a test compares with the limits. */
  peak(of: 'offered' | 'accepted'): SecondTally {
    let records = 0;
    let bytes = 0;
    for (const seconds of this.perSecond.values()) {
      for (const t of seconds.values()) {
        records = Math.max(records, t[of].records);
        bytes = Math.max(bytes, t[of].bytes);
      }
    }
    return { records, bytes };
  }
}

/** The open shards of a stream and their hash key ranges, from ListShards. */
export async function listOpenShards(client: KinesisClient, stream: string): Promise<ShardRange[]> {
  const out: ShardRange[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    for (const s of page.Shards ?? []) {
      if (s.SequenceNumberRange?.EndingSequenceNumber) continue; // closed by a reshard: takes no writes
      out.push({ shardId: s.ShardId!, start: BigInt(s.HashKeyRange!.StartingHashKey!), end: BigInt(s.HashKeyRange!.EndingHashKey!) });
    }
    token = page.NextToken;
  } while (token);
  return out;
}
