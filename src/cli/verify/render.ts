import type { DeviceReport, LatencySummary, VerifyReport } from './analyze.js';

const MAX_ROWS = 40;

const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)}` : '-');
const fromLabel: Record<LatencySummary['from'], string> = {
  ts: 'arrival − device ts',
  receivedAt: 'arrival − receivedAt (devices sent no ts)',
  mixed: 'arrival − device ts, or − receivedAt where the device sent no ts',
  none: 'no timestamps',
};

const shortFrom: Record<LatencySummary['from'], string> = { ts: 'ts', receivedAt: 'recv', mixed: 'mixed', none: '-' };

const hasIssue = (d: DeviceReport): boolean => d.gaps + d.duplicateSeqs + d.duplicateIds + d.reordered > 0;

/** The report as a compact table for a terminal: totals, then devices with findings first. */
export function renderReport(r: VerifyReport): string {
  const t = r.totals;
  const lines = [
    `stream ${r.stream}: ${r.records} record(s) in ${r.shards} shard(s), ${r.devices} device(s)${r.caughtUp ? '' : ' — NOT caught up (stopped by --duration)'}`,
    `gaps ${t.gaps}  duplicate seqs ${t.duplicateSeqs}  duplicate ids ${t.duplicateIds}  reordered ${t.reordered}  unreadable ${r.unreadable.count}`,
    `publish→visible latency ms (${fromLabel[r.latencyMs.from]}): p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  max ${ms(r.latencyMs.max)}`,
  ];
  for (const u of r.unreadable.examples) lines.push(`unreadable: ${u.shardId} ${u.sequenceNumber}: ${u.reason}`);
  const rows = [...r.perDevice.filter(hasIssue), ...r.perDevice.filter((d) => !hasIssue(d))];
  const shown = rows.slice(0, MAX_ROWS);
  const header = ['device', 'readings', 'seqs', 'gaps', 'dup-seq', 'dup-id', 'reord', 'p50', 'p99', 'from', 'missing'];
  const table = shown.map((d) => [
    d.deviceId,
    String(d.readings),
    d.firstSeq === null ? '-' : `${d.firstSeq}..${d.lastSeq}${d.boots > 1 ? ` (${d.boots} boots)` : ''}`,
    String(d.gaps),
    String(d.duplicateSeqs),
    String(d.duplicateIds),
    String(d.reordered),
    ms(d.latencyMs.p50),
    ms(d.latencyMs.p99),
    shortFrom[d.latencyMs.from],
    d.gapRanges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') + (d.gaps > 0 && d.gapRanges.length === 5 ? ',…' : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === 0 || i >= row.length - 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  lines.push('', fmt(header), ...table.map(fmt));
  if (rows.length > shown.length) lines.push(`… ${rows.length - shown.length} more device(s)${rows.slice(MAX_ROWS).some(hasIssue) ? '' : ', all clean'} (--json lists every one)`);
  return lines.join('\n');
}
