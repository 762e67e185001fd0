import { hashKeyOf } from './hash-key.js';

export interface ShardRange {
  shardId: string;
  startingHashKey: string;
  endingHashKey: string;
  /** A closed shard (split or merged away) has an ending sequence number and takes no more writes. */
  closed: boolean;
}

interface OpenShard {
  id: string;
  start: bigint;
  end: bigint;
}

/** The highest hash key: partition keys hash (MD5) to 128-bit numbers. */
const MAX_HASH_KEY = 2n ** 128n - 1n;

// Remembered partition keys, so a device's key is hashed once, not per record. Cleared when full.
const MAX_CACHED_KEYS = 100_000;

/**
 * Which open shard takes a partition key, from the stream's hash key ranges (ListShards). Closed parent
 * shards are left out: after a reshard their ranges belong to the children.
 */
export class ShardMap {
  private readonly open: OpenShard[];
  private readonly byKey = new Map<string, string>();
  /** Whether the open shards cover every hash key, so that shardOf never returns null. */
  readonly complete: boolean;

  constructor(shards: readonly ShardRange[]) {
    this.open = shards
      .filter((s) => !s.closed)
      .map((s) => ({ id: s.shardId, start: BigInt(s.startingHashKey), end: BigInt(s.endingHashKey) }))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let reach = -1n;
    let hole = false;
    for (const s of this.open) {
      if (s.start > reach + 1n) hole = true;
      if (s.end > reach) reach = s.end;
    }
    this.complete = !hole && reach >= MAX_HASH_KEY;
  }

  get shardIds(): string[] {
    return this.open.map((s) => s.id);
  }

  get size(): number {
    return this.open.length;
  }

  has(shardId: string): boolean {
    return this.open.some((s) => s.id === shardId);
  }

  /** The open shard for a key, or null when the map has a hole there (a reshard in progress). */
  shardOf(partitionKey: string): string | null {
    const cached = this.byKey.get(partitionKey);
    if (cached !== undefined) return cached;
    const hash = hashKeyOf(partitionKey);
    let lo = 0;
    let hi = this.open.length - 1;
    let found: string | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.open[mid]!;
      if (hash < s.start) hi = mid - 1;
      else if (hash > s.end) lo = mid + 1;
      else {
        found = s.id;
        break;
      }
    }
    if (found !== null) {
      if (this.byKey.size >= MAX_CACHED_KEYS) this.byKey.clear();
      this.byKey.set(partitionKey, found);
    }
    return found;
  }
}
