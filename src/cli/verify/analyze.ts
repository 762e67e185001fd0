import type { StreamRead } from './read-all-shards.js';

/**
 * What `tidegate tail --verify` concludes from a stream: per device, readings, gaps and duplicates by the
 * device's own `seq`, duplicates by record `id`, reorderings, and publish-to-visible latency.
 *
 * A device's seq restarts when it reboots, so the sequence space is (device, boot): the boot id a device
 * sends (device-sim's `boot` field, which tidegate keeps in `values.boot`) separates one boot's seq 1..n from
 * the next one's. Readings without a boot id share one sequence space per device.
 */
export interface LatencySummary {
  /** `ts`: ApproximateArrivalTimestamp − the device's ts; `receivedAt`: − the gateway's receive time (the device sent no ts); `mixed`: both occur. */
  from: 'ts' | 'receivedAt' | 'mixed' | 'none';
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface DeviceReport {
  deviceId: string;
  /** Records of this device in the stream, duplicates included. */
  readings: number;
  /** Distinct (boot, seq) values seen; readings without a seq are not counted here. */
  distinctSeqs: number;
  /** Distinct boot ids among readings with a seq (readings without a boot id count as one boot). */
  boots: number;
  /** Lowest and highest seq over all boots. */
  firstSeq: number | null;
  lastSeq: number | null;
  /** Device seq values missing between the first and the last seen of each boot (readings lost, or not yet delivered). */
  gaps: number;
  /** The first few missing seq ranges, `[from, to]` inclusive (boot by boot, in the order boots were first seen). */
  gapRanges: [number, number][];
  /** Extra copies of a seq already seen in the same boot. */
  duplicateSeqs: number;
  /** Extra copies of a record id already seen (the gateway's de-duplication key). */
  duplicateIds: number;
  /** Records whose seq is lower than one already seen in the same boot, counted once per seq (a duplicate is not a reordering). */
  reordered: number;
  latencyMs: LatencySummary;
}

export interface VerifyReport {
  stream: string;
  caughtUp: boolean;
  shards: number;
  records: number;
  devices: number;
  totals: { readings: number; gaps: number; duplicateSeqs: number; duplicateIds: number; reordered: number };
  latencyMs: LatencySummary;
  /** Kinesis records that could not be de-aggregated, and user records that are not tidegate records. */
  unreadable: { count: number; examples: { shardId: string; sequenceNumber: string; reason: string }[] };
  perDevice: DeviceReport[];
}

const MAX_GAP_RANGES = 5;
const MAX_EXAMPLES = 5;

interface ParsedRecord {
  id: string;
  deviceId: string;
  seq?: number;
  /** '' when the device sent no boot id. */
  boot: string;
  ts?: number;
  receivedAt?: number;
}

/** One boot of one device: a sequence space of its own. */
interface BootState {
  seqs: Map<number, number>;
  maxSeq: number;
  reordered: Set<number>;
}

interface DeviceState {
  readings: number;
  boots: Map<string, BootState>;
  duplicateIds: number;
  latencies: number[];
  fromTs: number;
  fromReceivedAt: number;
}

export function analyzeStream(stream: string, read: StreamRead): VerifyReport {
  const devices = new Map<string, DeviceState>();
  const ids = new Set<string>();
  const unreadable = read.unreadable.map((u) => ({ shardId: u.shardId, sequenceNumber: u.sequenceNumber, reason: `${u.code}: ${u.message}` }));
  let records = 0;
  for (const shard of read.shards) {
    for (const entry of shard.entries) {
      records += 1;
      const r = parseRecord(entry.data);
      if (typeof r === 'string') {
        unreadable.push({ shardId: entry.shardId, sequenceNumber: entry.sequenceNumber, reason: r });
        continue;
      }
      let d = devices.get(r.deviceId);
      if (!d) devices.set(r.deviceId, (d = { readings: 0, boots: new Map(), duplicateIds: 0, latencies: [], fromTs: 0, fromReceivedAt: 0 }));
      d.readings += 1;
      if (ids.has(r.id)) d.duplicateIds += 1;
      else ids.add(r.id);
      if (r.seq !== undefined) {
        let b = d.boots.get(r.boot);
        if (!b) d.boots.set(r.boot, (b = { seqs: new Map(), maxSeq: -Infinity, reordered: new Set() }));
        const copies = b.seqs.get(r.seq) ?? 0;
        if (copies === 0 && r.seq < b.maxSeq) b.reordered.add(r.seq);
        b.seqs.set(r.seq, copies + 1);
        b.maxSeq = Math.max(b.maxSeq, r.seq);
      }
      const origin = r.ts ?? r.receivedAt;
      if (origin !== undefined && Number.isFinite(entry.arrivedAt)) {
        d.latencies.push(entry.arrivedAt - origin);
        if (r.ts !== undefined) d.fromTs += 1;
        else d.fromReceivedAt += 1;
      }
    }
  }

  const perDevice = [...devices].map(([deviceId, d]) => deviceReport(deviceId, d)).sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  const all = [...devices.values()];
  const sum = (f: (r: DeviceReport) => number): number => perDevice.reduce((n, r) => n + f(r), 0);
  return {
    stream,
    caughtUp: read.caughtUp,
    shards: read.shards.length,
    records,
    devices: devices.size,
    totals: { readings: sum((r) => r.readings), gaps: sum((r) => r.gaps), duplicateSeqs: sum((r) => r.duplicateSeqs), duplicateIds: sum((r) => r.duplicateIds), reordered: sum((r) => r.reordered) },
    latencyMs: summarize(
      all.flatMap((d) => d.latencies),
      all.reduce((n, d) => n + d.fromTs, 0),
      all.reduce((n, d) => n + d.fromReceivedAt, 0),
    ),
    unreadable: { count: unreadable.length, examples: unreadable.slice(0, MAX_EXAMPLES) },
    perDevice,
  };
}

function deviceReport(deviceId: string, d: DeviceState): DeviceReport {
  const gapRanges: [number, number][] = [];
  let gaps = 0;
  let duplicateSeqs = 0;
  let distinctSeqs = 0;
  let reordered = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  for (const b of d.boots.values()) {
    const sorted = [...b.seqs.keys()].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) {
      const missing = sorted[i]! - sorted[i - 1]! - 1;
      if (missing <= 0) continue;
      gaps += missing;
      if (gapRanges.length < MAX_GAP_RANGES) gapRanges.push([sorted[i - 1]! + 1, sorted[i]! - 1]);
    }
    for (const copies of b.seqs.values()) duplicateSeqs += copies - 1;
    distinctSeqs += sorted.length;
    reordered += b.reordered.size;
    if (sorted.length > 0) {
      firstSeq = Math.min(firstSeq ?? Infinity, sorted[0]!);
      lastSeq = Math.max(lastSeq ?? -Infinity, sorted.at(-1)!);
    }
  }
  return {
    deviceId,
    readings: d.readings,
    distinctSeqs,
    boots: d.boots.size,
    firstSeq,
    lastSeq,
    gaps,
    gapRanges,
    duplicateSeqs,
    duplicateIds: d.duplicateIds,
    reordered,
    latencyMs: summarize(d.latencies, d.fromTs, d.fromReceivedAt),
  };
}

/** Nearest-rank percentiles. */
function summarize(values: number[], fromTs: number, fromReceivedAt: number): LatencySummary {
  const from = fromTs > 0 && fromReceivedAt > 0 ? 'mixed' : fromTs > 0 ? 'ts' : fromReceivedAt > 0 ? 'receivedAt' : 'none';
  if (values.length === 0) return { from, count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(values).sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { from, count: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1]! };
}

/** A tidegate record (see src/buffer/record-codec.ts), or why the data is not one. */
function parseRecord(data: Buffer): ParsedRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    return 'not_json: the record data is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not_a_tidegate_record: the JSON is not an object';
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.deviceId !== 'string') return 'not_a_tidegate_record: no string "id" and "deviceId"';
  const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const out: ParsedRecord = { id: o.id, deviceId: o.deviceId, boot: bootOf(o) };
  const seq = num(o.seq);
  const ts = num(o.ts);
  const receivedAt = num(o.receivedAt);
  if (seq !== undefined) out.seq = seq;
  if (ts !== undefined) out.ts = ts;
  if (receivedAt !== undefined) out.receivedAt = receivedAt;
  return out;
}

/** The device's boot id: in `values` (where tidegate keeps a device's other fields), or at the top level. */
function bootOf(o: Record<string, unknown>): string {
  const values = typeof o.values === 'object' && o.values !== null ? (o.values as Record<string, unknown>) : {};
  const boot = values.boot ?? o.boot;
  return typeof boot === 'string' || typeof boot === 'number' ? String(boot) : '';
}
