import type { ShardRange } from './shard-map.js';

/** One ListShards reply as both ports read it (the AWS JSON 1.1 names; the SDK's output has the same shape). */
export interface ListShardsPage {
  Shards?: Array<{ ShardId?: string; HashKeyRange?: { StartingHashKey?: string; EndingHashKey?: string }; SequenceNumberRange?: { EndingSequenceNumber?: string } }>;
  NextToken?: string;
}

// Bounded: a stream has at most a few thousand shards, 1,000 per page.
const MAX_SHARD_PAGES = 100;

/**
 * Every shard of a stream over all pages of ListShards. The first page is asked by stream name, each next
 * one by its token alone: ListShards takes either, never both.
 */
export async function listAllShards(streamName: string, page: (request: { StreamName: string } | { NextToken: string }) => Promise<ListShardsPage>): Promise<ShardRange[]> {
  const shards: ShardRange[] = [];
  let nextToken: string | undefined;
  for (let n = 0; n < MAX_SHARD_PAGES; n++) {
    const out = await page(nextToken ? { NextToken: nextToken } : { StreamName: streamName });
    for (const s of out.Shards ?? []) {
      shards.push({
        shardId: s.ShardId ?? '',
        startingHashKey: s.HashKeyRange?.StartingHashKey ?? '0',
        endingHashKey: s.HashKeyRange?.EndingHashKey ?? '0',
        closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      });
    }
    nextToken = out.NextToken;
    if (!nextToken) break;
  }
  return shards;
}
