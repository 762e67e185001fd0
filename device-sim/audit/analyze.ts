/**
 * Compares a ledger with the records of a stream. Keys are (device, boot, seq):
 *  - loss: an acknowledged key that never appears;
 *  - duplicates: a key that appears more than once (copies beyond the first),
 *    split into those the device sent twice on purpose and the rest; and
 *    records of this run whose gateway `id` repeats (the gateway resent them);
 *  - reordering: per device and boot, within one shard, a first-seen seq lower
 *    than the previous first-seen seq (a backward step; repeats are duplicates);
 *  - latency: receivedAt - ts (device -> gateway). When a record reached the
 *    stream is not recorded in it, so stream latency cannot be measured here,
 *    and device clock skew shows up in this number.
 */
import { RangeSet, type Range } from '../ledger.js';
import { percentile } from '../stats.js';
import type { AuditLedger } from './report-file.js';
import type { StreamRecord } from './kinesis-reader.js';

export interface LostReadings {
  deviceId: string;
  boot: string;
  lost: Range[];
}

export interface AuditResult {
  stream: string;
  shards: number;
  records: number;
  ledger: { devices: number; boots: number; sent: number; acknowledged: number; qos: number; transport: string };
  /** Records that are readings of this run (device, boot and seq in the ledger). */
  matched: number;
  loss: { count: number; byDevice: LostReadings[] };
  duplicates: { copies: number; keys: number; injected: number; unexpected: number; byId: number };
  reordered: number;
  /** Readings in the stream whose ack the simulator never got (in flight at exit, or acks lost): not loss. */
  deliveredUnacknowledged: number;
  /** notReadings: records whose `kind` is not "reading" (alarms, aggregates, derived records): scored elsewhere or not at all. */
  ignored: { notReadings: number; otherDevices: number; unknownBoot: number; withoutSeq: number; seqNeverSent: number; unparseable: number };
  latencyMs: { count: number; min: number; p50: number; p95: number; p99: number; max: number; note: string } | null;
  ok: boolean;
}

interface BootState {
  sent: number;
  acked: Range[];
  duplicated: RangeSet;
  counts: Uint8Array;
}

interface ParsedRecord {
  id?: unknown;
  kind?: unknown;
  deviceId?: unknown;
  seq?: unknown;
  ts?: unknown;
  receivedAt?: unknown;
  boot?: unknown;
  values?: { boot?: unknown };
}

const LATENCY_NOTE = 'receivedAt - ts: device to gateway, including device clock skew; the time a record reached the stream is not in the record';
const decoder = new TextDecoder();
// auditStream re-analyses while it waits for stragglers: each record is decoded once, not once per round.
const parsed = new WeakMap<StreamRecord, ParsedRecord | null>();

function parse(rec: StreamRecord): ParsedRecord | null {
  let r = parsed.get(rec);
  if (r === undefined) {
    try {
      const v: unknown = JSON.parse(decoder.decode(rec.data));
      r = v !== null && typeof v === 'object' ? (v as ParsedRecord) : null;
    } catch {
      r = null;
    }
    parsed.set(rec, r);
  }
  return r;
}

export function analyze(ledger: AuditLedger, records: readonly StreamRecord[], stream: string, shards: number): AuditResult {
  const devices = new Map<string, Map<string, BootState>>();
  let sent = 0;
  let acknowledged = 0;
  let bootCount = 0;
  for (const d of ledger.devices) {
    const boots = new Map<string, BootState>();
    for (const b of d.boots) {
      boots.set(b.boot, { sent: b.sent, acked: b.acked as Range[], duplicated: RangeSet.from((b.duplicated ?? []) as Range[]), counts: new Uint8Array(b.sent + 1) });
      sent += b.sent;
      for (const [a, z] of b.acked) acknowledged += z - a + 1;
      bootCount++;
    }
    devices.set(d.deviceId, boots);
  }

  const ignored = { notReadings: 0, otherDevices: 0, unknownBoot: 0, withoutSeq: 0, seqNeverSent: 0, unparseable: 0 };
  const dup = { copies: 0, keys: 0, injected: 0, unexpected: 0, byId: 0 };
  const ids = new Set<string>();
  const lastSeq = new Map<string, number>(); // shard + device + boot -> last first-seen seq
  const latencies: number[] = [];
  let matched = 0;
  let reordered = 0;

  for (const rec of records) {
    const r = parse(rec);
    if (r === null) {
      ignored.unparseable++;
      continue;
    }
    // Records without a kind come from gateways older than the record kinds: they are readings.
    if (r.kind !== undefined && r.kind !== 'reading') {
      ignored.notReadings++;
      continue;
    }
    const boots = typeof r.deviceId === 'string' ? devices.get(r.deviceId) : undefined;
    if (!boots) {
      ignored.otherDevices++;
      continue;
    }
    if (typeof r.seq !== 'number') {
      ignored.withoutSeq++;
      continue;
    }
    // A device's seq restarts with each boot, so (device, boot) is the sequence space. tidegate keeps the
    // boot id among the values; a record that carries it at the top level is read the same way.
    const bootRaw = r.values?.boot ?? r.boot;
    const bootId = typeof bootRaw === 'string' ? bootRaw : '';
    const b = boots.get(bootId);
    if (!b) {
      ignored.unknownBoot++;
      continue;
    }
    const seq = r.seq;
    if (!Number.isInteger(seq) || seq < 1 || seq > b.sent) {
      ignored.seqNeverSent++;
      continue;
    }
    matched++;
    if (typeof r.id === 'string') {
      if (ids.has(r.id)) dup.byId++;
      else ids.add(r.id);
    }
    if (typeof r.receivedAt === 'number' && typeof r.ts === 'number') latencies.push(r.receivedAt - r.ts);
    const seen = b.counts[seq] as number;
    if (seen < 255) b.counts[seq] = seen + 1;
    if (seen > 0) {
      dup.copies++;
      if (seen === 1) dup.keys++;
      if (seen === 1 && b.duplicated.has(seq)) dup.injected++;
      continue;
    }
    const key = `${rec.shardId}\u0000${r.deviceId as string}\u0000${bootId}`;
    const last = lastSeq.get(key);
    if (last !== undefined && seq < last) reordered++;
    lastSeq.set(key, seq);
  }
  dup.unexpected = dup.copies - dup.injected;

  const byDevice: LostReadings[] = [];
  let lost = 0;
  let deliveredUnacknowledged = 0;
  for (const [deviceId, boots] of devices) {
    for (const [boot, b] of boots) {
      const acked = new Uint8Array(b.sent + 1);
      const missing = new RangeSet();
      for (const [a, z] of b.acked) {
        for (let s = Math.max(1, a); s <= Math.min(z, b.sent); s++) {
          acked[s] = 1;
          if (b.counts[s] === 0) missing.add(s);
        }
      }
      for (let s = 1; s <= b.sent; s++) if (!acked[s] && (b.counts[s] as number) > 0) deliveredUnacknowledged++;
      if (missing.size > 0) {
        lost += missing.size;
        byDevice.push({ deviceId, boot, lost: missing.toArray() });
      }
    }
  }

  let latencyMs: AuditResult['latencyMs'] = null;
  if (latencies.length > 0) {
    const sorted = Float64Array.from(latencies).sort();
    latencyMs = {
      count: sorted.length,
      min: sorted[0] as number,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] as number,
      note: LATENCY_NOTE,
    };
  }
  return {
    stream,
    shards,
    records: records.length,
    ledger: { devices: devices.size, boots: bootCount, sent, acknowledged, qos: ledger.qos, transport: ledger.transport },
    matched,
    loss: { count: lost, byDevice },
    duplicates: dup,
    reordered,
    deliveredUnacknowledged,
    ignored,
    latencyMs,
    ok: lost === 0,
  };
}
