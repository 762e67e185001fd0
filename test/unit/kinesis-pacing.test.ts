import agg from 'aws-kinesis-agg';
import { describe, expect, it } from 'vitest';
import { aggregateOverheadBytes, encodeAggregate, subRecordBytes } from '../../src/kinesis-agg/aggregate.js';
import type { StoredRecord } from '../../src/buffer/types.js';
import { hashKeyOf } from '../../src/sinks/kinesis/hash-key.js';
import type { BatchLimits } from '../../src/sinks/kinesis/limits.js';
import { planCall } from '../../src/sinks/kinesis/plan-call.js';
import type { Pending } from '../../src/pipeline/sink.js';
import { ShardMap } from '../../src/sinks/kinesis/shard-map.js';
import { pacedBurst, ShardPacer, shardNamedIn, UNKNOWN_SHARD } from '../../src/sinks/kinesis/shard-pacer.js';
import { SlidingWindow } from '../../src/core/sliding-window.js';
import { TokenBucket } from '../../src/core/token-bucket.js';
import { mulberry32 } from '../../device-sim/model/random.js';

const LIMITS: BatchLimits = { maxRecords: 500, maxBytes: 5 * 1024 * 1024, maxRecordBytes: 1024 * 1024 };
const MAX_HASH = 2n ** 128n - 1n;

function pending(seq: number, key: string, bytes = 200): Pending {
  const record: StoredRecord = { lane: 'telemetry', seq, partitionKey: key, data: Buffer.alloc(bytes, 0x61), bytes: bytes + 40 };
  return { record, done: false, sending: false, removed: false, deadLettered: false };
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Takes greedily from `take` every millisecond for `ms` of virtual time; returns how many went at each millisecond. */
function drainGreedily(clock: { advance: (ms: number) => void }, ms: number, take: () => boolean): number[] {
  const perMs: number[] = [];
  for (let t = 0; t < ms; t++) {
    let n = 0;
    while (n < 100_000 && take()) n += 1;
    perMs.push(n);
    clock.advance(1);
  }
  return perMs;
}

/** The most taken in any sliding window of `windowMs` milliseconds. */
function busiestWindow(perMs: number[], windowMs: number): number {
  let sum = 0;
  let peak = 0;
  for (let t = 0; t < perMs.length; t++) {
    sum += perMs[t]!;
    if (t >= windowMs) sum -= perMs[t - windowMs]!;
    peak = Math.max(peak, sum);
  }
  return peak;
}

/** Two shards splitting the hash key space in half, like a fresh two-shard stream. */
function twoShards(): ShardMap {
  const half = 2n ** 127n;
  return new ShardMap([
    { shardId: 'shardId-000000000000', startingHashKey: '0', endingHashKey: (half - 1n).toString(), closed: false },
    { shardId: 'shardId-000000000001', startingHashKey: half.toString(), endingHashKey: MAX_HASH.toString(), closed: false },
  ]);
}

/** `n` shards splitting the hash key space evenly, like a fresh stream of n shards; `missing` left out (a hole). */
function evenShards(n: number, missing?: number): ShardMap {
  const step = (MAX_HASH + 1n) / BigInt(n);
  const ranges = Array.from({ length: n }, (_, i) => ({
    shardId: `shardId-${String(i).padStart(12, '0')}`,
    startingHashKey: (step * BigInt(i)).toString(),
    endingHashKey: (i === n - 1 ? MAX_HASH : step * BigInt(i + 1) - 1n).toString(),
    closed: false,
  }));
  return new ShardMap(ranges.filter((_, i) => i !== missing));
}

/** A pacer that counts the partition keys it is asked to place: what a plan looked at. */
class CountingPacer extends ShardPacer {
  lookups = 0;
  override shardOf(partitionKey: string): string {
    this.lookups += 1;
    return super.shardOf(partitionKey);
  }
}

/**
 * The paced rule of planCall written plainly, as the reference: every waiting reading of the look-ahead is
 * counted, a shard opens when it has allowance for min(waiting, chunk), and the open shards' readings board
 * in order until the call is full or a shard runs out; readings over the record limit are rejected once their
 * shard is open.
 */
function referencePacedPlan(candidates: readonly Pending[], limits: BatchLimits, pacer: ShardPacer): { seqs: number[]; tooLarge: number[]; pacedForMs: number | null } {
  const items = candidates.slice(0, limits.maxRecords * 4);
  const counts = new Map<string, number>();
  for (const p of items) {
    const shard = pacer.shardOf(p.record.partitionKey);
    counts.set(shard, (counts.get(shard) ?? 0) + 1);
  }
  const open = new Set<string>();
  let held: number | null = null;
  for (const [shard, count] of counts) {
    const wait = pacer.msUntilRecords(shard, Math.min(count, pacer.chunkRecords(shard)));
    if (wait > 0) held = held === null ? wait : Math.min(held, wait);
    else open.add(shard);
  }
  const seqs: number[] = [];
  const tooLarge: number[] = [];
  let bytes = 0;
  for (const p of items) {
    if (open.size === 0) break;
    const shard = pacer.shardOf(p.record.partitionKey);
    if (!open.has(shard)) continue;
    const size = p.record.data.length + Buffer.byteLength(p.record.partitionKey);
    if (size > limits.maxRecordBytes) {
      tooLarge.push(p.record.seq);
      continue;
    }
    if (seqs.length >= limits.maxRecords || bytes + size > limits.maxBytes) break;
    if (!pacer.tryTake(shard, size)) {
      open.delete(shard);
      held = held === null ? pacer.msUntil(shard, size) : Math.min(held, pacer.msUntil(shard, size));
      continue;
    }
    seqs.push(p.record.seq);
    bytes += size;
  }
  return { seqs, tooLarge, pacedForMs: seqs.length === 0 ? held : null };
}

/**
 * The paced KPL rule written plainly, as the reference: every reading of a call's bytes is aggregated by
 * key (an aggregate closes when the next reading would take it over maxBytes; one of a single reading goes
 * as a plain record); of each shard, the aggregates that start below its burst (what those before it take,
 * summed) may board; a shard opens when it has records allowance for min(those, chunk) and bytes allowance
 * for min(their bytes, the burst), and the open shards' aggregates board in order until the call is full or
 * a shard runs out.
 */
function referencePacedKplPlan(candidates: readonly Pending[], limits: BatchLimits, maxBytes: number, pacer: ShardPacer): { members: number[][]; tooLarge: number[]; pacedForMs: number | null } {
  const tooLarge: number[] = [];
  const fitting: Pending[] = [];
  let scanned = 0;
  for (const p of candidates) {
    const size = p.record.data.length + Buffer.byteLength(p.record.partitionKey);
    if (size > limits.maxRecordBytes) {
      tooLarge.push(p.record.seq);
      continue;
    }
    if (scanned > limits.maxBytes) break;
    scanned += size;
    fitting.push(p);
  }
  const groups: Array<{ key: string; members: Pending[]; aggregateSize: number }> = [];
  const open = new Map<string, (typeof groups)[number]>();
  for (const p of fitting) {
    const key = p.record.partitionKey;
    const add = subRecordBytes(p.record.data.length);
    let g = open.get(key);
    if (g && g.aggregateSize + add > maxBytes) g = undefined;
    if (!g) {
      g = { key, members: [], aggregateSize: aggregateOverheadBytes(key) + Buffer.byteLength(key) };
      groups.push(g);
      open.set(key, g);
    }
    g.members.push(p);
    g.aggregateSize += add;
  }
  const sizeOf = (g: (typeof groups)[number]): number => (g.members.length === 1 ? g.members[0]!.record.data.length + Buffer.byteLength(g.key) : g.aggregateSize);
  const before = new Map<string, number>();
  const boardable = groups.filter((g) => {
    const shard = pacer.shardOf(g.key);
    const start = before.get(shard) ?? 0;
    before.set(shard, start + sizeOf(g));
    return start === 0 || start < pacer.burst(shard).bytes;
  });
  const counts = new Map<string, number>();
  const waitingBytes = new Map<string, number>();
  for (const g of boardable) {
    const shard = pacer.shardOf(g.key);
    counts.set(shard, (counts.get(shard) ?? 0) + 1);
    waitingBytes.set(shard, (waitingBytes.get(shard) ?? 0) + sizeOf(g));
  }
  const opened = new Set<string>();
  let held: number | null = null;
  for (const [shard, count] of counts) {
    const wait = Math.max(
      pacer.msUntilRecords(shard, Math.min(count, pacer.chunkRecords(shard))),
      pacer.msUntilBytes(shard, Math.min(waitingBytes.get(shard)!, pacer.burst(shard).bytes)),
    );
    if (wait > 0) held = held === null ? wait : Math.min(held, wait);
    else opened.add(shard);
  }
  const members: number[][] = [];
  let bytes = 0;
  for (const g of boardable) {
    if (opened.size === 0) break;
    const shard = pacer.shardOf(g.key);
    if (!opened.has(shard)) continue;
    const size = sizeOf(g);
    if (members.length >= limits.maxRecords || bytes + size > limits.maxBytes) break;
    if (!pacer.tryTake(shard, size)) {
      opened.delete(shard);
      held = held === null ? pacer.msUntil(shard, size) : Math.min(held, pacer.msUntil(shard, size));
      continue;
    }
    members.push(g.members.map((p) => p.record.seq));
    bytes += size;
  }
  return { members, tooLarge, pacedForMs: members.length === 0 ? held : null };
}

/**
 * Two pacers alike, each on its own clock, for a subject and a reference planned side by side; now and then
 * their map has a hole (a reshard being listed), whose keys are paced as the unknown shard.
 */
function twinPacers(random: () => number, options: { recordsPerSecond: number; bytesPerSecond: number; share: number }, shards: number) {
  const clockA = manualClock();
  const clockB = manualClock();
  const subject = new ShardPacer({ ...options, now: clockA.now });
  const reference = new ShardPacer({ ...options, now: clockB.now });
  const missing = shards > 1 && random() < 0.3 ? Math.floor(random() * shards) : undefined;
  subject.setMap(evenShards(shards, missing));
  reference.setMap(evenShards(shards, missing));
  const advance = (ms: number): void => {
    clockA.advance(ms);
    clockB.advance(ms);
  };
  return { subject, reference, missing, advance };
}

function deaggregate(data: Buffer, key: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    agg.deaggregateSync({ data: data.toString('base64'), partitionKey: key, approximateArrivalTimestamp: 0, sequenceNumber: '1' } as never, true, (err: unknown, out?: Array<{ data: string }>) =>
      err ? reject(err) : resolve((out ?? []).map((r) => Buffer.from(r.data, 'base64'))),
    );
  });
}

describe('hash keys and the shard map', () => {
  it('reads the MD5 of the partition key as a 128-bit unsigned integer', () => {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    expect(hashKeyOf('')).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
  });

  it('maps keys to the open shard whose range holds their hash, and leaves closed parents out', () => {
    const half = 2n ** 127n;
    const map = new ShardMap([
      { shardId: 'shardId-000000000000', startingHashKey: '0', endingHashKey: MAX_HASH.toString(), closed: true },
      { shardId: 'shardId-000000000001', startingHashKey: '0', endingHashKey: (half - 1n).toString(), closed: false },
      { shardId: 'shardId-000000000002', startingHashKey: half.toString(), endingHashKey: MAX_HASH.toString(), closed: false },
    ]);
    expect(map.shardIds).toEqual(['shardId-000000000001', 'shardId-000000000002']);
    for (let i = 0; i < 200; i++) {
      const key = `dev-${i}`;
      expect(map.shardOf(key)).toBe(hashKeyOf(key) < half ? 'shardId-000000000001' : 'shardId-000000000002');
    }
  });

  it('knows whether its open shards cover every hash key', () => {
    const half = 2n ** 127n;
    expect(twoShards().complete).toBe(true);
    expect(evenShards(4).complete).toBe(true);
    expect(evenShards(4, 2).complete).toBe(false);
    // A reshard under way: the parent closed, one child listed so far.
    const partial = new ShardMap([
      { shardId: 'shardId-000000000000', startingHashKey: '0', endingHashKey: MAX_HASH.toString(), closed: true },
      { shardId: 'shardId-000000000001', startingHashKey: '0', endingHashKey: (half - 1n).toString(), closed: false },
    ]);
    expect(partial.complete).toBe(false);
    expect(partial.shardOf([...Array(64).keys()].map((i) => `dev-${i}`).find((k) => hashKeyOf(k) >= half)!)).toBeNull();
    const gapInside = new ShardMap([
      { shardId: 'shardId-000000000001', startingHashKey: '0', endingHashKey: (half - 2n).toString(), closed: false },
      { shardId: 'shardId-000000000002', startingHashKey: half.toString(), endingHashKey: MAX_HASH.toString(), closed: false },
    ]);
    expect(gapInside.complete).toBe(false);
    expect(new ShardMap([]).complete).toBe(false);
  });

  it('names the shard of a throttling reply', () => {
    expect(shardNamedIn('Rate exceeded for shard shardId-000000000003 in stream s under account 1.')).toBe('shardId-000000000003');
    expect(shardNamedIn('Rate exceeded')).toBeNull();
  });
});

describe('TokenBucket', () => {
  it('holds one second of its rate and refills with time', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(100, clock.now);
    let taken = 0;
    while (bucket.tryTake(1) && taken < 1000) taken += 1;
    expect(taken).toBe(100);
    expect(bucket.msUntil(1)).toBeCloseTo(10, 5);
    clock.advance(250);
    taken = 0;
    while (bucket.tryTake(1) && taken < 1000) taken += 1;
    expect(taken).toBe(25);
  });

  it('lets a request larger than the bucket through only when it is full, leaving a debt', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, clock.now);
    expect(bucket.tryTake(1)).toBe(true);
    expect(bucket.tryTake(5000)).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake(5000)).toBe(true);
    expect(bucket.tryTake(1)).toBe(false);
    // The debt of 4,000 tokens is paid back in 4 s before anything else goes.
    clock.advance(3990);
    expect(bucket.tryTake(1)).toBe(false);
    clock.advance(20);
    expect(bucket.tryTake(1)).toBe(true);
  });
});

describe('ShardPacer', () => {
  it('gives each shard its own records/s and bytes/s allowance, scaled by the share', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.5, now: clock.now });
    pacer.setMap(twoShards());
    let a = 0;
    while (pacer.tryTake('shardId-000000000000', 10) && a < 10_000) a += 1;
    expect(a).toBe(500);
    let b = 0;
    while (pacer.tryTake('shardId-000000000001', 4096) && b < 10_000) b += 1;
    // 0.5 MiB/s of 4 KiB records: the byte limit binds first.
    expect(b).toBe(128);
  });

  it('calls a call quick within half the time a saturated shard takes to gather a chunk, whatever the rate', () => {
    const quick = (share: number, recordsPerSecond: number) => new ShardPacer({ recordsPerSecond, bytesPerSecond: 1024 * 1024, share }).quickCallMs();
    // A chunk is the burst, half the limit or what the limit leaves above the paced rate if more: 556 ms of
    // the rate at share 0.9, 1 s at 0.5 (both rules agree), 500 ms at 1, 2.33 s at 0.3 (the headroom).
    expect(quick(0.9, 1000)).toBeCloseTo(277.8, 1);
    expect(quick(0.9, 200)).toBeCloseTo(277.8, 1);
    expect(quick(0.5, 1000)).toBeCloseTo(500, 5);
    expect(quick(1, 1000)).toBeCloseTo(250, 5);
    expect(quick(0.3, 1000)).toBeCloseTo(1166.7, 1);
  });

  it('never lets one second carry more than the shard limit, though the bucket holds half of it', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
    pacer.setMap(twoShards());
    let taken = 0;
    // Bounded: 1,000 steps of 1 ms, taking all there is at each.
    for (let ms = 0; ms < 1000; ms++) {
      while (pacer.tryTake('shardId-000000000000', 10) && taken < 10_000) taken += 1;
      clock.advance(1);
    }
    // 500 in the bucket at the start, then 900/s: the bucket alone would let 1,400 through; the sliding
    // second holds it at the limit.
    expect(taken).toBeLessThanOrEqual(1000);
    expect(taken).toBeGreaterThanOrEqual(990);
  });

  interface Allowance {
    /** Whether `n` records can be taken now. */
    ready(n: number): boolean;
    take(): boolean;
  }

  /**
   * Calls at virtual time (20 s in 1 ms steps): a call of `sizeOf(i)` records leaves as soon as that much can
   * be taken, each record taken one by one. Returns each call's take time and size.
   */
  function drainInCalls(clock: { advance: (ms: number) => void }, allowance: Allowance, sizeOf: (call: number) => number): Array<{ at: number; size: number }> {
    const calls: Array<{ at: number; size: number }> = [];
    for (let ms = 0; ms < 20_000; ms++) {
      const size = sizeOf(calls.length);
      if (allowance.ready(size)) {
        let n = 0;
        while (n < size && allowance.take()) n += 1;
        expect(n).toBe(size);
        calls.push({ at: ms, size });
      }
      clock.advance(1);
    }
    return calls;
  }

  /** The most records AWS would count in one of its seconds, the calls arriving `delayOf(i)` ms after they were taken, over every phase of its clock against ours. */
  function busiestCountedSecond(calls: Array<{ at: number; size: number }>, delayOf: (call: number) => number): number {
    let busiest = 0;
    for (let phase = 0; phase < 1000; phase++) {
      const perSecond = new Map<number, number>();
      calls.forEach((c, i) => {
        const second = Math.floor((c.at + delayOf(i) + phase) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + c.size);
      });
      busiest = Math.max(busiest, ...perSecond.values());
    }
    return busiest;
  }

  function pacerAllowance(pacer: ShardPacer, shard: string): Allowance {
    return { ready: (n) => pacer.msUntilRecords(shard, n) === 0, take: () => pacer.tryTake(shard, 10) };
  }

  it('sends a saturated shard half its limit per call, 1.8 calls a second at share 0.9', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
    pacer.setMap(twoShards());
    const shard = 'shardId-000000000000';
    const chunk = pacer.chunkRecords(shard);
    expect(chunk).toBe(500);
    const calls = drainInCalls(clock, pacerAllowance(pacer, shard), () => chunk);
    expect(calls.length).toBeGreaterThanOrEqual(35);
    expect(calls.length).toBeLessThanOrEqual(37);
    // Negative control: a call 150 ms behind the two after it (more than the 111 ms margin) puts three calls, 1,500 records, in one second.
    expect(busiestCountedSecond(calls, (i) => (i === 3 ? 150 : 0))).toBe(1500);
  });

  it('keeps every second AWS counts within the limit, calls of any size, while take-to-arrival times differ by less than 1 / share − 1 s', () => {
    // Forty seeded runs of random call sizes and delays from take to arrival of 0–111 ms: at share 0.9 the
    // margin is 111.1 ms, so the widest spread of delays is just inside it.
    let plainOver = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const random = mulberry32(seed);
      const sizes = Array.from({ length: 400 }, () => 1 + Math.floor(random() * 500));
      const delays = Array.from({ length: 400 }, () => Math.floor(random() * 112));
      const clock = manualClock();
      const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
      pacer.setMap(twoShards());
      const calls = drainInCalls(clock, pacerAllowance(pacer, 'shardId-000000000000'), (i) => sizes[i]!);
      expect(calls.length).toBeGreaterThan(40);
      expect(busiestCountedSecond(calls, (i) => delays[i]!)).toBeLessThanOrEqual(1000);
      // Never above the paced rate: 20 s carry at most 20 s of 900/s and the burst.
      expect(calls.reduce((a, c) => a + c.size, 0)).toBeLessThanOrEqual(20 * 900 + 500);
      // Negative control: the same bucket with a window of one second instead of 1 / share, the same calls
      // as late.
      const plainClock = manualClock();
      const bucket = new TokenBucket(900, plainClock.now, (r) => pacedBurst(r, 0.9));
      const second = new SlidingWindow(1000, 1000, plainClock.now);
      const oneSecond: Allowance = {
        ready: (n) => bucket.msUntil(n) === 0 && second.msUntil(n) === 0,
        take: () => {
          if (!second.fits(1) || !bucket.tryTake(1)) return false;
          second.add(1);
          return true;
        },
      };
      const plainCalls = drainInCalls(plainClock, oneSecond, (i) => sizes[i]!);
      if (busiestCountedSecond(plainCalls, (i) => delays[i]!) > 1000) plainOver += 1;
    }
    // With a one-second window most of the forty runs put more than the limit into some second.
    expect(plainOver).toBeGreaterThan(20);
  });

  it('at share 1 drains at the limit exactly: never more than the limit in any sliding second, no take above the declared burst', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 1, now: clock.now });
    pacer.setMap(twoShards());
    const burst = pacer.burst('shardId-000000000000').records;
    expect(burst).toBeCloseTo(pacedBurst(1000, 1), 9);
    expect(burst).toBeCloseTo(500, 9);
    const perMs = drainGreedily(clock, 10_000, () => pacer.tryTake('shardId-000000000000', 10));
    expect(busiestWindow(perMs, 1000)).toBeLessThanOrEqual(1000);
    expect(Math.max(...perMs)).toBeLessThanOrEqual(burst);
    // The long-run rate is the limit itself, not a share below it: 10 s of backlog move 10 s of the limit.
    const total = perMs.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(9_990);
    expect(total).toBeLessThanOrEqual(10_000);
  });

  it('negative control: a token bucket alone at the limit, holding the same burst, lets more than the limit through in a second', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, clock.now, (r) => pacedBurst(r, 1));
    const perMs = drainGreedily(clock, 10_000, () => bucket.tryTake(1));
    // What the sliding-second check catches: the burst on top of a full second of refill.
    expect(busiestWindow(perMs, 1000)).toBeGreaterThan(1000);
  });

  it('keeps a throttled shard within its cut limit in every sliding second, and lets one oversize record through alone', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1_000_000, share: 1, now: clock.now });
    pacer.setMap(twoShards());
    pacer.onThrottled('shardId-000000000000');
    const perMs = drainGreedily(clock, 5_000, () => pacer.tryTake('shardId-000000000000', 10));
    expect(busiestWindow(perMs, 1000)).toBeLessThanOrEqual(700);
    // 900 kB against a byte bucket of 100 kB: goes when bucket and window are empty, then nothing for a while.
    clock.advance(2_000);
    expect(pacer.tryTake('shardId-000000000001', 900_000)).toBe(true);
    expect(pacer.tryTake('shardId-000000000001', 10)).toBe(false);
    expect(pacer.msUntil('shardId-000000000001', 10)).toBeGreaterThan(0);
  });

  it('cuts a throttled shard multiplicatively, once per second, and raises it back after accepted calls', () => {
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 1, now: clock.now });
    pacer.setMap(twoShards());
    const factor = (id: string) => pacer.snapshot().find((s) => s.shardId === id)?.factor;
    pacer.tryTake('shardId-000000000000', 1);
    pacer.onThrottled('shardId-000000000000');
    pacer.onThrottled('shardId-000000000000');
    expect(factor('shardId-000000000000')).toBeCloseTo(0.7);
    expect(pacer.tryTake('shardId-000000000000', 1)).toBe(false);
    clock.advance(1000);
    pacer.onThrottled('shardId-000000000000');
    expect(factor('shardId-000000000000')).toBeCloseTo(0.49);
    // The other shard is untouched.
    expect(pacer.tryTake('shardId-000000000001', 1)).toBe(true);
    expect(factor('shardId-000000000001')).toBe(1);
    for (let i = 0; i < 20; i++) {
      clock.advance(1000);
      pacer.onAccepted('shardId-000000000000');
    }
    expect(factor('shardId-000000000000')).toBe(1);
  });

  it('raises a cut shard back by time, as fast with two calls a second as with nine, and at most a second of raises per call', () => {
    const recovered = (callEveryMs: number): number => {
      const clock = manualClock();
      const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
      pacer.setMap(twoShards());
      pacer.onThrottled('shardId-000000000000');
      // Bounded: 20 s of accepted calls.
      for (let t = callEveryMs; t <= 20_000; t += callEveryMs) {
        clock.advance(callEveryMs);
        pacer.onAccepted('shardId-000000000000');
        if (pacer.snapshot()[0]!.factor >= 1) return t;
      }
      return Infinity;
    };
    // 0.7 back to 1: six raises, the first a second after the cut, then one every 200 ms: 2 s, and the call after.
    expect(recovered(111)).toBeGreaterThanOrEqual(2_000);
    expect(recovered(111)).toBeLessThan(2_000 + 111);
    expect(recovered(556)).toBeGreaterThanOrEqual(2_000);
    expect(recovered(556)).toBeLessThan(2_000 + 556);
    // After a quiet spell, one accepted call raises by at most five steps (0.05 each).
    const clock = manualClock();
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
    pacer.setMap(twoShards());
    pacer.onThrottled('shardId-000000000000');
    clock.advance(1000);
    pacer.onThrottled('shardId-000000000000');
    expect(pacer.snapshot()[0]!.factor).toBeCloseTo(0.49, 9);
    clock.advance(60_000);
    pacer.onAccepted('shardId-000000000000');
    expect(pacer.snapshot()[0]!.factor).toBeCloseTo(0.74, 9);
  });

  it('paces everything as one shard until the map is known', () => {
    const pacer = new ShardPacer({ recordsPerSecond: 10, bytesPerSecond: 1024 * 1024, share: 1, now: manualClock().now });
    expect(pacer.shardOf('dev-1')).toBe(UNKNOWN_SHARD);
    expect(pacer.shardOf('dev-2')).toBe(UNKNOWN_SHARD);
  });
});

describe('planCall', () => {
  it('without aggregation takes readings in order up to the entry limit', () => {
    const readings = Array.from({ length: 600 }, (_, i) => pending(i, `dev-${i % 3}`));
    const plan = planCall(readings, LIMITS, { mode: 'none' }, null);
    expect(plan.entries).toHaveLength(500);
    expect(plan.entries.map((e) => e.members[0]!.record.seq)).toEqual(readings.slice(0, 500).map((p) => p.record.seq));
  });

  it('sends readings over the record limit to the dead letters and never plans them', () => {
    const readings = [pending(1, 'a'), pending(2, 'a', 2 * 1024 * 1024), pending(3, 'a')];
    const plan = planCall(readings, LIMITS, { mode: 'kpl', maxBytes: 51_200 }, null);
    expect(plan.tooLarge.map((p) => p.record.seq)).toEqual([2]);
    expect(plan.entries.flatMap((e) => e.members.map((m) => m.record.seq))).toEqual([1, 3]);
  });

  it('packs readings of one device into KPL records that aws-kinesis-agg reads back, in order, within maxBytes', async () => {
    const readings = Array.from({ length: 1000 }, (_, i) => pending(i, `dev-${i % 4}`, 200));
    const plan = planCall(readings, LIMITS, { mode: 'kpl', maxBytes: 51_200 }, null);
    const total = plan.entries.reduce((n, e) => n + e.members.length, 0);
    expect(total).toBe(1000);
    expect(1000 / plan.entries.length).toBeGreaterThanOrEqual(50);
    for (const e of plan.entries) {
      expect(e.data.length).toBeLessThanOrEqual(51_200);
      expect(e.size).toBe(e.data.length + Buffer.byteLength(e.partitionKey));
      expect(new Set(e.members.map((m) => m.record.partitionKey))).toEqual(new Set([e.partitionKey]));
      const subs = await deaggregate(Buffer.from(e.data), e.partitionKey);
      expect(subs.map((b) => b.length)).toEqual(e.members.map((m) => m.record.data.length));
      const seqs = e.members.map((m) => m.record.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    // A device's aggregates are planned in the order of their readings.
    const dev0 = plan.entries.filter((e) => e.partitionKey === 'dev-0').flatMap((e) => e.members.map((m) => m.record.seq));
    expect(dev0).toEqual(readings.filter((p) => p.record.partitionKey === 'dev-0').map((p) => p.record.seq));
  });

  it('sends a lone reading as a plain record', () => {
    const plan = planCall([pending(1, 'solo')], LIMITS, { mode: 'kpl', maxBytes: 51_200 }, null);
    expect(Buffer.from(plan.entries[0]!.data).equals(Buffer.alloc(200, 0x61))).toBe(true);
  });

  it('holds back a shard without allowance, and every later reading of it, while other shards go', () => {
    const clock = manualClock();
    // 5 records/s paced against a limit of 10: the bucket may hold the 5 the limit leaves above that rate.
    const pacer = new ShardPacer({ recordsPerSecond: 10, bytesPerSecond: 1024 * 1024, share: 0.5, now: clock.now });
    const map = twoShards();
    pacer.setMap(map);
    const keys = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const keyA = keys.find((k) => map.shardOf(k) === 'shardId-000000000000')!;
    const keyB = keys.find((k) => map.shardOf(k) === 'shardId-000000000001')!;
    const readings = [...Array.from({ length: 8 }, (_, i) => pending(i, keyA)), ...Array.from({ length: 3 }, (_, i) => pending(100 + i, keyB))];
    const plan = planCall(readings, LIMITS, { mode: 'none' }, pacer);
    expect(plan.entries.map((e) => e.members[0]!.record.seq)).toEqual([0, 1, 2, 3, 4, 100, 101, 102]);
    expect(plan.entries.map((e) => e.shardId)).toEqual([...Array(5).fill('shardId-000000000000'), ...Array(3).fill('shardId-000000000001')]);
    // Nothing left for shard 0: the plan is empty and says how long to wait: until the shard has room for
    // all 3 waiting (a chunk is the whole burst, 5, or what waits), not for the first token (200 ms).
    const next = planCall(readings.slice(5, 8), LIMITS, { mode: 'none' }, pacer);
    expect(next.entries).toHaveLength(0);
    expect(next.pacedForMs).toBeCloseTo(600, 5);
    clock.advance(200);
    expect(planCall(readings.slice(5, 8), LIMITS, { mode: 'none' }, pacer).entries).toHaveLength(0);
    clock.advance(400);
    expect(planCall(readings.slice(5, 8), LIMITS, { mode: 'none' }, pacer).entries).toHaveLength(3);
  });

  it("looks at a held shard's chunk of a long read-ahead, not all of it, and still boards in order", () => {
    const clock = manualClock();
    const pacer = new CountingPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: clock.now });
    pacer.setMap(evenShards(1));
    const chunk = pacer.chunkRecords('shardId-000000000000');
    expect(chunk).toBe(Math.floor(pacedBurst(900, 0.9)));
    const readings = Array.from({ length: 2_000 }, (_, i) => pending(i, `dev-${i % 50}`));
    // A full bucket: the first chunk goes.
    const first = planCall(readings, LIMITS, { mode: 'none' }, pacer);
    expect(first.entries.map((e) => e.members[0]!.record.seq)).toEqual([...Array(chunk).keys()]);
    // The shard is held now: the plan places a chunk's worth of keys and stops (it looked at 2,000 before).
    pacer.lookups = 0;
    const held = planCall(readings.slice(chunk), LIMITS, { mode: 'none' }, pacer);
    expect(held.entries).toHaveLength(0);
    expect(held.pacedForMs).toBeGreaterThan(0);
    expect(pacer.lookups).toBe(chunk);
    // Half a chunk of allowance back: still held, since a whole chunk waits.
    clock.advance(held.pacedForMs! / 2);
    expect(planCall(readings.slice(chunk), LIMITS, { mode: 'none' }, pacer).entries).toHaveLength(0);
    clock.advance(held.pacedForMs! / 2);
    const next = planCall(readings.slice(chunk), LIMITS, { mode: 'none' }, pacer);
    expect(next.entries.map((e) => e.members[0]!.record.seq)).toEqual([...Array(chunk).keys()].map((i) => chunk + i));
  });

  it('plans paced calls exactly as the plain rule does, on random read-aheads, shard counts and clocks', () => {
    // Seeded, so a failing round replays.
    const random = mulberry32(15);
    for (let round = 0; round < 150; round++) {
      const shards = 1 + Math.floor(random() * 4);
      const devices = 1 + Math.floor(random() * 60);
      const limits: BatchLimits = { maxRecords: 50 + Math.floor(random() * 450), maxBytes: 20_000 + Math.floor(random() * 200_000), maxRecordBytes: 2_000 };
      const options = { recordsPerSecond: 100 + Math.floor(random() * 900), bytesPerSecond: 50_000 + Math.floor(random() * 1_000_000), share: 0.5 + random() / 2 };
      const { subject, reference, missing, advance } = twinPacers(random, options, shards);
      let next = 0;
      let waiting: Pending[] = [];
      for (let step = 0; step < 12; step++) {
        const arriving = Math.floor(random() * 400);
        for (let i = 0; i < arriving; i++) waiting.push(pending(next++, `dev-${Math.floor(random() * devices)}`, random() < 0.01 ? 2_500 : 50 + Math.floor(random() * 400)));
        const want = referencePacedPlan(waiting, limits, reference);
        const got = planCall(waiting, limits, { mode: 'none' }, subject);
        const context = `round ${round}, step ${step}, ${shards} shard(s) (missing: ${missing}), ${waiting.length} waiting`;
        expect(got.entries.map((e) => e.members[0]!.record.seq), context).toEqual(want.seqs);
        expect(got.tooLarge.map((p) => p.record.seq), context).toEqual(want.tooLarge);
        expect(got.pacedForMs, context).toBe(want.pacedForMs);
        const gone = new Set([...want.seqs, ...want.tooLarge]);
        waiting = waiting.filter((p) => !gone.has(p.record.seq));
        advance(random() * 300);
      }
    }
  });

  it('plans paced KPL calls exactly as the plain rule does, on random read-aheads, shard counts and clocks', () => {
    // Seeded, so a failing round replays.
    const random = mulberry32(16);
    for (let round = 0; round < 150; round++) {
      const shards = 1 + Math.floor(random() * 4);
      // Now and then so many devices that most aggregates hold one reading, and go as plain records.
      const devices = random() < 0.3 ? 500 + Math.floor(random() * 3_000) : 1 + Math.floor(random() * 60);
      const limits: BatchLimits = { maxRecords: 50 + Math.floor(random() * 450), maxBytes: 20_000 + Math.floor(random() * 400_000), maxRecordBytes: 5_000 + Math.floor(random() * 20_000) };
      const maxBytes = 600 + Math.floor(random() * 20_000);
      const options = { recordsPerSecond: 5 + Math.floor(random() * 1_000), bytesPerSecond: 20_000 + Math.floor(random() * 1_000_000), share: 0.5 + random() / 2 };
      const { subject, reference, missing, advance } = twinPacers(random, options, shards);
      let next = 0;
      let waiting: Pending[] = [];
      for (let step = 0; step < 12; step++) {
        const arriving = Math.floor(random() * 1_500);
        for (let i = 0; i < arriving; i++) waiting.push(pending(next++, `dev-${Math.floor(random() * devices)}`, random() < 0.01 ? limits.maxRecordBytes : 50 + Math.floor(random() * 400)));
        // An aggregate is a record: never over the record limit either.
        const want = referencePacedKplPlan(waiting, limits, Math.min(maxBytes, limits.maxRecordBytes), reference);
        const got = planCall(waiting, limits, { mode: 'kpl', maxBytes }, subject);
        const context = `round ${round}, step ${step}, ${shards} shard(s) (missing: ${missing}), ${waiting.length} waiting`;
        expect(got.entries.map((e) => e.members.map((p) => p.record.seq)), context).toEqual(want.members);
        expect(got.pacedForMs, context).toBe(want.pacedForMs);
        // Readings over the limit are found as far as the plan looks: the first of those the rule finds.
        const rejected = got.tooLarge.map((p) => p.record.seq);
        expect(rejected, context).toEqual(want.tooLarge.slice(0, rejected.length));
        const gone = new Set([...want.members.flat(), ...rejected]);
        waiting = waiting.filter((p) => !gone.has(p.record.seq));
        advance(random() * 300);
      }
    }
  });

  it("aggregates only what a paced shard's burst can take of a long read-ahead, and boards each device's readings in order", () => {
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: manualClock().now });
    pacer.setMap(evenShards(1));
    const burst = pacer.burst('shardId-000000000000').bytes;
    // A KPL drain's read window: 24,000 readings of 50 devices. The aggregates that can board (those of the
    // first devices, 51,200 bytes each) are full after 12,500; past 15,000, reading a record throws.
    const readings = Array.from({ length: 24_000 }, (_, i) => pending(i, `dev-${i % 50}`));
    for (const p of readings.slice(15_000)) {
      Object.defineProperty(p, 'record', {
        get: () => {
          throw new Error('looked beyond what the shard can take');
        },
      });
    }
    const plan = planCall(readings, LIMITS, { mode: 'kpl', maxBytes: 51_200 }, pacer);
    const seqs = plan.entries.flatMap((e) => e.members.map((p) => p.record.seq));
    expect(seqs.length).toBeGreaterThan(0);
    // The shard's allowance is used up to its burst (less one reading), in aggregates of one device each.
    const bytes = plan.entries.reduce((sum, e) => sum + e.size, 0);
    expect(bytes).toBeLessThanOrEqual(burst);
    expect(bytes).toBeGreaterThan(burst - 2 * 51_200);
    for (const e of plan.entries) expect(new Set(e.members.map((p) => p.record.partitionKey)).size).toBe(1);
    // Of every device, what boards is its oldest readings, in order.
    for (let d = 0; d < 50; d++) {
      const mine = seqs.filter((seq) => seq % 50 === d).sort((a, b) => a - b);
      expect(mine).toEqual(mine.map((_, i) => d + 50 * i));
    }
  });

  it("looks past a full shard's readings for another shard's, aggregated", () => {
    const pacer = new ShardPacer({ recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, share: 0.9, now: manualClock().now });
    const map = twoShards();
    pacer.setMap(map);
    const keys = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const keyA = keys.find((k) => map.shardOf(k) === 'shardId-000000000000')!;
    const keyB = keys.find((k) => map.shardOf(k) === 'shardId-000000000001')!;
    // Shard 0's readings first, three times what its burst takes, then shard 1's.
    const perBurst = Math.ceil(pacer.burst('shardId-000000000000').bytes / 200);
    const readings = [...Array.from({ length: 3 * perBurst }, (_, i) => pending(i, keyA)), ...Array.from({ length: 100 }, (_, i) => pending(100_000 + i, keyB))];
    const plan = planCall(readings, LIMITS, { mode: 'kpl', maxBytes: 51_200 }, pacer);
    const ofB = plan.entries.filter((e) => e.partitionKey === keyB);
    expect(ofB.flatMap((e) => e.members.map((p) => p.record.seq))).toEqual(Array.from({ length: 100 }, (_, i) => 100_000 + i));
    const ofA = plan.entries.filter((e) => e.partitionKey === keyA).flatMap((e) => e.members.map((p) => p.record.seq));
    expect(ofA).toEqual([...Array(ofA.length).keys()]);
    expect(ofA.length).toBeLessThan(perBurst + 1);
  });

  it('counts one aggregated record once against the shard records limit', () => {
    const pacer = new ShardPacer({ recordsPerSecond: 2, bytesPerSecond: 1024 * 1024, share: 1, now: manualClock().now });
    pacer.setMap(twoShards());
    const readings = Array.from({ length: 200 }, (_, i) => pending(i, 'one-device', 200));
    const plan = planCall(readings, LIMITS, { mode: 'kpl', maxBytes: 51_200 }, pacer);
    expect(plan.entries).toHaveLength(1);
    expect(plan.entries[0]!.members).toHaveLength(200);
  });

  it('encodes what the independent implementation encodes the same way', async () => {
    const parts = [Buffer.from('{"a":1}'), Buffer.alloc(130, 0x62), Buffer.alloc(0)];
    const subs = await deaggregate(encodeAggregate('k', parts), 'k');
    expect(subs.map((b) => b.toString())).toEqual(parts.map((b) => b.toString()));
  });
});
