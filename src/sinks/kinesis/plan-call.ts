import { aggregateOverheadBytes, encodeAggregate, subRecordBytes } from '../../kinesis-agg/aggregate.js';
import { entrySize } from './batcher.js';
import type { BatchLimits } from './limits.js';
import type { Pending } from '../../pipeline/sink.js';
import type { ShardPacer } from './shard-pacer.js';

/** `kpl` packs readings that share a partition key into KPL aggregated records of at most `maxBytes`. */
export type Aggregation = { mode: 'none' } | { mode: 'kpl'; maxBytes: number };

/** One Kinesis record of a call: a single reading, or a KPL aggregate of several of one device. */
export interface OutEntry {
  partitionKey: string;
  data: Uint8Array;
  /** The readings it carries, in order; all are delivered or retried together. */
  members: Pending[];
  /** Data plus partition key, as counted by the Kinesis limits. */
  size: number;
  /** The shard pacing predicted for it (UNKNOWN_SHARD without a map); checked against the reply. */
  shardId: string | null;
}

export interface CallPlan {
  entries: OutEntry[];
  /** Readings that can never be accepted (over the record limit): they go to the dead letters. */
  tooLarge: Pending[];
  /** When pacing held every remaining entry back: how long until the first shard has room again. */
  pacedForMs: number | null;
}

interface Group {
  partitionKey: string;
  members: Pending[];
  /** Size of the Kinesis record this group becomes (data plus key). */
  size: number;
}

/**
 * Plans one PutRecords call from the readings waiting, in priority order: aggregates them (optionally), then
 * takes records in order until the call's entry or byte limit, skipping those whose shard has no allowance left
 * (all of a shard's records are skipped once one is, so a device's readings never overtake each other).
 * Never skips ahead of a record that does not fit the call: it waits for the next one.
 */
export function planCall(candidates: readonly Pending[], limits: BatchLimits, aggregation: Aggregation, pacer: ShardPacer | null): CallPlan {
  if (pacer && aggregation.mode === 'none') {
    // Paced and unaggregated, a reading is sized (and found too large) only once its shard is open: most
    // plans of a paced drain find the shard held, and a held shard's readings cost no more than its lookup.
    // A few calls' worth is looked at, so an open shard's readings behind a held one's still board.
    const lookAhead = limits.maxRecords * 4;
    return pacedEntries(candidates.length > lookAhead ? candidates.slice(0, lookAhead) : candidates, (p) => p.record.partitionKey, single, limits, pacer);
  }
  const tooLarge: Pending[] = [];
  if (aggregation.mode === 'kpl' && pacer) {
    // Only the aggregates a shard's allowance can still take are built. The read window of a KPL drain holds
    // eight calls' worth per split (24,000 readings), and aggregating all of it on every plan, to send one or
    // two aggregates per shard, was over half the main thread's time of a paced KPL drain of 60,000 readings
    // (issue "Pi-class efficiency").
    const groups = boardableAggregates(candidates, limits, Math.min(aggregation.maxBytes, limits.maxRecordBytes), pacer, tooLarge).map(loneAsSingle);
    // Readings over the limit went to tooLarge there, and no aggregate is built over it: none is found here.
    return { ...pacedEntries(groups, (g) => g.partitionKey, (g) => g, limits, pacer, true), tooLarge };
  }
  // Readings beyond one full call of bytes cannot board it, aggregated or not; unaggregated, neither can more
  // than a call's entries. No need to look further.
  const fitting = fittingReadings(candidates, limits, aggregation.mode === 'kpl' ? Infinity : limits.maxRecords, tooLarge);
  if (aggregation.mode === 'kpl') {
    const groups = aggregate(fitting, Math.min(aggregation.maxBytes, limits.maxRecordBytes)).map(loneAsSingle);
    return { entries: unpacedEntries(groups, limits), tooLarge, pacedForMs: null };
  }
  return { entries: unpacedEntries(fitting.map(single), limits), tooLarge, pacedForMs: null };
}

// fittingReadings, unpacedEntries and aggregate each end with their loop. V8 compiles a long-running loop on
// the fly (on-stack replacement) before the code after it ever ran, and enters that code again on later
// calls; code after the loop without type feedback then deoptimized on every call (about once per plan in a
// KPL drain, seen with --trace-deopt; issue "Pi-class efficiency").

/** The readings in order up to `maxFitting` or a call's bytes; those over the record limit go to `tooLarge`. */
function fittingReadings(candidates: readonly Pending[], limits: BatchLimits, maxFitting: number, tooLarge: Pending[]): Pending[] {
  const fitting: Pending[] = [];
  let scanned = 0;
  for (const p of candidates) {
    const size = entrySize(p.record);
    if (size > limits.maxRecordBytes) {
      tooLarge.push(p);
      continue;
    }
    if (scanned > limits.maxBytes || fitting.length >= maxFitting) break;
    scanned += size;
    fitting.push(p);
  }
  return fitting;
}

/** Groups in order until the call's entry or byte limit. */
function unpacedEntries(groups: readonly Group[], limits: BatchLimits): OutEntry[] {
  const entries: OutEntry[] = [];
  let bytes = 0;
  for (const g of groups) {
    if (entries.length >= limits.maxRecords || bytes + g.size > limits.maxBytes) break;
    entries.push(toEntry(g, null));
    bytes += g.size;
  }
  return entries;
}

/**
 * The entries of a paced call. Each shard is decided once, before any entry: it opens only with a chunk's
 * worth of allowance (or all that waits for it), so a saturated shard is not sent a record at a time as its
 * tokens trickle in, which keeps calls few and full; a held shard's records are all skipped. When every
 * shard is held, nothing else is looked at (a paced cycle with a full read window runs this every few
 * milliseconds). With `byteChunks` (KPL aggregates, whose bytes run out before their records do) a shard
 * also waits for a chunk of bytes allowance, its burst or all the bytes that wait for it: without it a
 * saturated shard went as soon as one aggregate fit, about 11 calls a second (issue "Pi-class efficiency").
 */
function pacedEntries<T>(items: readonly T[], keyOf: (item: T) => string, groupOf: (item: T) => Group, limits: BatchLimits, pacer: ShardPacer, byteChunks = false): CallPlan {
  const shardOf: string[] = new Array<string>(items.length);
  // Per shard, how many records wait, counted until every shard the stream has holds a chunk's worth: only
  // that many decide whether a shard opens. A saturated shard's plan then looks at a chunk of records, not
  // at the whole read-ahead (most plans of a paced drain find the shard held; issue "Pi-class efficiency").
  const waiting = new Map<string, { count: number; chunk: number; bytes: number }>();
  const shards = pacer.possibleShards();
  let full = 0;
  let counted = items.length;
  for (let i = 0; i < items.length; i++) {
    const id = pacer.shardOf(keyOf(items[i]!));
    shardOf[i] = id;
    let w = waiting.get(id);
    if (!w) waiting.set(id, (w = { count: 0, chunk: pacer.chunkRecords(id), bytes: 0 }));
    if (byteChunks) {
      // The aggregates a KPL plan gets are already bounded by each shard's burst: all of them are counted.
      w.count += 1;
      w.bytes += groupOf(items[i]!).size;
    } else if (++w.count === w.chunk && ++full === shards) {
      counted = i + 1;
      break;
    }
  }
  const open = new Set<string>();
  let pacedForMs: number | null = null;
  const hold = (wait: number): void => {
    pacedForMs = pacedForMs === null ? wait : Math.min(pacedForMs, wait);
  };
  for (const [shardId, { count, chunk, bytes }] of waiting) {
    const records = pacer.msUntilRecords(shardId, Math.min(count, chunk));
    const wait = byteChunks ? Math.max(records, pacer.msUntilBytes(shardId, Math.min(bytes, pacer.burst(shardId).bytes))) : records;
    if (wait > 0) hold(wait);
    else open.add(shardId);
  }
  const entries: OutEntry[] = [];
  const tooLarge: Pending[] = [];
  if (open.size === 0) return { entries, tooLarge, pacedForMs };
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const shardId = i < counted ? shardOf[i]! : pacer.shardOf(keyOf(items[i]!));
    if (!open.has(shardId)) continue;
    const g = groupOf(items[i]!);
    if (g.size > limits.maxRecordBytes) {
      // Never accepted; only an unaggregated reading gets here (planCall sizes KPL readings first).
      tooLarge.push(...g.members);
      continue;
    }
    if (entries.length >= limits.maxRecords || bytes + g.size > limits.maxBytes) break;
    if (!pacer.tryTake(shardId, g.size)) {
      // Out of allowance mid-call: the rest of this shard waits (its readings keep their order).
      open.delete(shardId);
      hold(pacer.msUntil(shardId, g.size));
      if (open.size === 0) break;
      continue;
    }
    entries.push(toEntry(g, shardId));
    bytes += g.size;
  }
  return { entries, tooLarge, pacedForMs: entries.length === 0 ? pacedForMs : null };
}

function single(p: Pending): Group {
  return { partitionKey: p.record.partitionKey, members: [p], size: entrySize(p.record) };
}

/**
 * Packs readings by partition key, in order of each key's first reading; a key's aggregate closes when the
 * next reading would take it over `maxBytes`.
 */
function aggregate(readings: readonly Pending[], maxBytes: number): Group[] {
  const groups: Group[] = [];
  const open = new Map<string, Group>();
  for (const p of readings) {
    const key = p.record.partitionKey;
    const add = subRecordBytes(p.record.data.length);
    let g = open.get(key);
    if (g && g.size + add > maxBytes) g = undefined;
    if (!g) {
      g = { partitionKey: key, members: [], size: aggregateOverheadBytes(key) + Buffer.byteLength(key, 'utf8') };
      groups.push(g);
      open.set(key, g);
    }
    g.members.push(p);
    g.size += add;
  }
  return groups;
}

interface ScanGroup extends Group {
  /** What it takes of the allowance: as a plain record while it holds one reading (loneAsSingle). */
  taken: number;
  dead: boolean;
  /** A reading of its key did not fit: its size is final. */
  closed: boolean;
}

interface ShardScan {
  /** The most one call takes from the shard (ShardPacer.burst, bytes). */
  burst: number;
  /** Its aggregates that may still board, in order, and the sum of what they take. */
  live: ScanGroup[];
  bytes: number;
  /** Live aggregates that may still grow. */
  growing: number;
  /** No reading still to come can change what boards of it. */
  settled: boolean;
}

interface KeyScan {
  shard: ShardScan;
  open: ScanGroup | null;
  /** Its next reading cannot board: none of its later ones may (a device's readings keep their order). */
  blocked: boolean;
}

/**
 * The aggregates of aggregate(), over the readings fittingReadings would pass, less those that cannot board
 * a paced call, built without aggregating the whole read window. A shard's aggregates board in order while
 * its bytes allowance lasts, and the allowance never exceeds its burst (the bucket's size; the SlidingWindow
 * only lowers it). Aggregates only grow as readings join, so one that starts at or beyond the burst (the
 * allowance the ones before it take, summed) can never board: it is dropped, and every later reading of its
 * key with it. The scan ends once every shard the stream has can start no aggregate and each of its live
 * ones is closed: nothing after that changes what boards (the plain rule and this one plan alike, checked
 * in test/unit/kinesis-pacing.test.ts). Readings over the record limit go to `tooLarge` as they are met,
 * so one behind where the scan ends is found by a later plan.
 */
function boardableAggregates(candidates: readonly Pending[], limits: BatchLimits, maxBytes: number, pacer: ShardPacer, tooLarge: Pending[]): Group[] {
  const groups: ScanGroup[] = [];
  const keys = new Map<string, KeyScan>();
  const shards = new Map<string, ShardScan>();
  const possible = pacer.possibleShards();
  let settled = 0;
  let scanned = 0;
  const settle = (s: ShardScan): void => {
    if (s.settled || s.growing > 0 || s.bytes < s.burst) return;
    s.settled = true;
    settled += 1;
  };
  for (const p of candidates) {
    const size = entrySize(p.record);
    if (size > limits.maxRecordBytes) {
      tooLarge.push(p);
      continue;
    }
    if (scanned > limits.maxBytes) break;
    scanned += size;
    const key = p.record.partitionKey;
    let k = keys.get(key);
    if (!k) {
      // A key's shard (an MD5 of the key) is looked up once per plan, not once per reading.
      const shardId = pacer.shardOf(key);
      let shard = shards.get(shardId);
      if (!shard) shards.set(shardId, (shard = { burst: pacer.burst(shardId).bytes, live: [], bytes: 0, growing: 0, settled: false }));
      keys.set(key, (k = { shard, open: null, blocked: false }));
    }
    if (k.blocked) continue;
    const s = k.shard;
    const add = subRecordBytes(p.record.data.length);
    let g = k.open;
    if (g && g.size + add > maxBytes) {
      // Full: its size is final, and this reading starts the key's next aggregate.
      g.closed = true;
      s.growing -= 1;
      g = k.open = null;
    }
    if (!g) {
      if (s.bytes >= s.burst) {
        // A new aggregate would start beyond the burst.
        k.blocked = true;
        settle(s);
        if (settled === possible) break;
        continue;
      }
      g = { partitionKey: key, members: [], size: aggregateOverheadBytes(key) + Buffer.byteLength(key, 'utf8'), taken: 0, dead: false, closed: false };
      groups.push(g);
      s.live.push(g);
      s.growing += 1;
      k.open = g;
    }
    g.members.push(p);
    g.size += add;
    // Never less than before: two readings aggregated take more than the first as a plain record.
    const taken = g.members.length === 1 ? size : g.size;
    s.bytes += taken - g.taken;
    g.taken = taken;
    if (s.bytes < s.burst) continue;
    // The aggregates that start at or beyond the burst now cannot board.
    while (s.live.length > 1) {
      const last = s.live[s.live.length - 1]!;
      if (s.bytes - last.taken < s.burst) break;
      s.live.pop();
      s.bytes -= last.taken;
      last.dead = true;
      if (!last.closed) s.growing -= 1;
      const owner = keys.get(last.partitionKey)!;
      owner.blocked = true;
      owner.open = null;
    }
    settle(s);
    if (settled === possible) break;
  }
  return groups.filter((g) => !g.dead);
}

/** A lone reading goes as a plain record: the same for any consumer, without the aggregate's overhead. */
function loneAsSingle(g: Group): Group {
  return g.members.length === 1 ? single(g.members[0]!) : g;
}

function toEntry(g: Group, shardId: string | null): OutEntry {
  if (g.members.length === 1) {
    const r = g.members[0]!.record;
    return { partitionKey: r.partitionKey, data: r.data, members: g.members, size: g.size, shardId };
  }
  const data = encodeAggregate(
    g.partitionKey,
    g.members.map((p) => p.record.data),
  );
  return { partitionKey: g.partitionKey, data, members: g.members, size: data.length + Buffer.byteLength(g.partitionKey, 'utf8'), shardId };
}
