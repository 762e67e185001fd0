import { describe, it, expect } from 'vitest';
import { analyze } from '../../../device-sim/audit/analyze.js';
import type { StreamRecord } from '../../../device-sim/audit/kinesis-reader.js';
import { parseLedger, ReportFileError, type AuditLedger } from '../../../device-sim/audit/report-file.js';

const T = Date.UTC(2025, 0, 15, 12, 0, 0);
let nextId = 0;

function rec(shardId: string, deviceId: string, boot: string | undefined, seq: number | undefined, extra: { id?: string; latency?: number } = {}): StreamRecord {
  const body = {
    id: extra.id ?? `gw-${nextId++}`,
    deviceId,
    topic: `devices/${deviceId}/telemetry`,
    ts: T + (seq ?? 0),
    ...(seq === undefined ? {} : { seq }),
    receivedAt: T + (seq ?? 0) + (extra.latency ?? 5),
    values: { temperature: 21, ...(boot === undefined ? {} : { boot }) },
  };
  return { shardId, data: Buffer.from(JSON.stringify(body)) };
}

const ledger: AuditLedger = parseLedger(
  {
    qos: 1,
    startedAt: new Date(T).toISOString(),
    devices: [
      { deviceId: 'th-001', boots: [{ boot: 'b1', sent: 10, acked: [[1, 10]], duplicated: [[4, 4]] }] },
      { deviceId: 'th-002', boots: [{ boot: 'c1', sent: 5, acked: [[1, 3]] }, { boot: 'c2', sent: 4, acked: [[1, 4]] }] },
    ],
  },
  'test',
);

describe('audit analysis', () => {
  it('is clean when every acknowledged reading arrived once, in order', () => {
    const records = [
      ...Array.from({ length: 10 }, (_, i) => rec('s0', 'th-001', 'b1', i + 1)),
      ...Array.from({ length: 3 }, (_, i) => rec('s1', 'th-002', 'c1', i + 1)),
      ...Array.from({ length: 4 }, (_, i) => rec('s1', 'th-002', 'c2', i + 1)),
    ];
    const r = analyze(ledger, records, 'st', 2);
    expect(r).toMatchObject({ ok: true, records: 17, matched: 17, reordered: 0, deliveredUnacknowledged: 0, loss: { count: 0, byDevice: [] } });
    expect(r.ledger).toEqual({ devices: 2, boots: 3, sent: 19, acknowledged: 17, qos: 1, transport: 'mqtt' });
    expect(r.duplicates).toEqual({ copies: 0, keys: 0, injected: 0, unexpected: 0, byId: 0 });
    expect(r.latencyMs).toMatchObject({ count: 17, p50: 5, p99: 5 });
  });

  it('finds loss as ranges, duplicates (injected or not, by key and by id), reordering and late deliveries exactly', () => {
    const records = [
      // th-001: 1,2,3, 4 twice (the device sent 4 twice on purpose), 7 missing, 9 before 8 in s0, 6 and 5 swapped.
      ...[1, 2, 3, 4, 4, 6, 5, 9, 8, 10].map((s) => rec('s0', 'th-001', 'b1', s)),
      // th-002 boot c1: 2 lost; 3 twice with the same gateway id (a resend of the record itself); 4 was never acked but arrived.
      rec('s1', 'th-002', 'c1', 1),
      rec('s1', 'th-002', 'c1', 3, { id: 'gw-x' }),
      rec('s1', 'th-002', 'c1', 3, { id: 'gw-x' }),
      rec('s1', 'th-002', 'c1', 4),
      // boot c2: all there, but 2 arrives twice on different shards (after a reshard): a duplicate, not reordering.
      ...[1, 2, 3, 4].map((s) => rec('s1', 'th-002', 'c2', s)),
      rec('s2', 'th-002', 'c2', 2),
      // ignored: other devices, unknown boots, no seq, seqs never sent, not JSON
      rec('s0', 'th-999', 'b1', 1),
      rec('s0', 'th-001', 'zz', 1),
      rec('s0', 'th-001', undefined, 2),
      rec('s0', 'th-001', 'b1', undefined),
      rec('s0', 'th-001', 'b1', 11),
      { shardId: 's0', data: Buffer.from('not json') },
      // not a reading: an alarm of a ledger device (no seq), and an aggregate that carries a seq
      { shardId: 's0', data: Buffer.from(JSON.stringify({ kind: 'alarm', deviceId: 'th-001', ts: 1, result: { transition: 'raised' } })) },
      { shardId: 's0', data: Buffer.from(JSON.stringify({ kind: 'aggregate', deviceId: 'th-001', seq: 3, values: { boot: 'b1' } })) },
    ];
    const r = analyze(ledger, records, 'st', 3);
    expect(r.ok).toBe(false);
    expect(r.loss).toEqual({
      count: 2,
      byDevice: [
        { deviceId: 'th-001', boot: 'b1', lost: [[7, 7]] },
        { deviceId: 'th-002', boot: 'c1', lost: [[2, 2]] },
      ],
    });
    expect(r.duplicates).toEqual({ copies: 3, keys: 3, injected: 1, unexpected: 2, byId: 1 });
    expect(r.reordered).toBe(2); // 6 -> 5 and 9 -> 8
    expect(r.deliveredUnacknowledged).toBe(1);
    expect(r.ignored).toEqual({ notReadings: 2, otherDevices: 1, unknownBoot: 2, withoutSeq: 1, seqNeverSent: 1, unparseable: 1 });
    expect(r.matched).toBe(19);
  });

  it('treats (device, boot) as the sequence space: overlapping seqs of two boots are neither duplicates nor loss; a repeat within a boot is', () => {
    const twoBoots = parseLedger(
      { qos: 1, startedAt: new Date(T).toISOString(), devices: [{ deviceId: 'th-009', boots: [{ boot: 'e1', sent: 6, acked: [[1, 6]] }, { boot: 'e2', sent: 6, acked: [[1, 6]] }] }] },
      'test',
    );
    const seqs = [1, 2, 3, 4, 5, 6];
    // Both boots in one shard, interleaved; plus seq 1..6 of a boot of an earlier run (not in this ledger).
    const clean = [...seqs.slice(0, 3).map((s) => rec('s0', 'th-009', 'e1', s)), ...seqs.map((s) => rec('s0', 'th-009', 'e2', s)), ...seqs.slice(3).map((s) => rec('s0', 'th-009', 'e1', s))];
    const earlierRun = seqs.map((s) => rec('s0', 'th-009', 'old0', s));
    const r = analyze(twoBoots, [...earlierRun, ...clean], 'st', 1);
    expect(r).toMatchObject({ ok: true, matched: 12, reordered: 0, loss: { count: 0, byDevice: [] } });
    expect(r.duplicates).toEqual({ copies: 0, keys: 0, injected: 0, unexpected: 0, byId: 0 });
    expect(r.ignored.unknownBoot).toBe(6);

    const repeated = analyze(twoBoots, [...clean, rec('s0', 'th-009', 'e2', 4)], 'st', 1);
    expect(repeated.duplicates).toEqual({ copies: 1, keys: 1, injected: 0, unexpected: 1, byId: 0 });
  });

  it('reports receivedAt - ts percentiles, negative with a fast device clock', () => {
    const records = Array.from({ length: 100 }, (_, i) => rec('s0', 'th-001', 'b1', (i % 10) + 1, { latency: i - 10 }));
    const r = analyze(ledger, records, 'st', 1);
    expect(r.latencyMs).toMatchObject({ count: 100, min: -10, p50: 39, p99: 88, max: 89 });
    expect(r.latencyMs!.note).toMatch(/device to gateway/);
  });

  it('refuses a file that is not a device-sim report, saying what to do', () => {
    expect(() => parseLedger({ qos: 1, devices: [{ deviceId: 'x', sent: 1 }] }, 'old.json')).toThrow(ReportFileError);
    expect(() => parseLedger({}, 'old.json')).toThrow(/old\.json is not a device-sim report with a per-boot ledger \(write one with device-sim run --report FILE\)/);
  });
});
