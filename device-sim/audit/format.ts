/** The audit as a person reads it; JSON output is the AuditResult itself. */
import type { AuditResult } from './analyze.js';

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const MAX_LOSS_LINES = 20;

function ranges(rs: ReadonlyArray<readonly [number, number]>): string {
  const shown = rs.slice(0, 8).map(([a, b]) => (a === b ? String(a) : `${a}-${b}`));
  return shown.join(', ') + (rs.length > 8 ? `, … (${rs.length - 8} more ranges)` : '');
}

export function formatAudit(r: AuditResult, strict = false): string {
  const l = r.ledger;
  const lines = [
    `device-sim audit: stream ${r.stream} (${r.shards} shard${r.shards === 1 ? '' : 's'}, ${int(r.records)} records read)`,
    `  ledger           ${int(l.devices)} devices, ${int(l.boots)} boots, ${int(l.sent)} sent, ${int(l.acknowledged)} ${l.qos === 0 || l.transport === 'serial' ? 'written (no acks at QoS 0/serial)' : 'acknowledged'}`,
    `  matched          ${int(r.matched)} records are readings of this run`,
    `  loss             ${int(r.loss.count)} acknowledged readings not in the stream`,
  ];
  for (const d of r.loss.byDevice.slice(0, MAX_LOSS_LINES)) lines.push(`                     ${d.deviceId} boot ${d.boot}: seq ${ranges(d.lost)}`);
  if (r.loss.byDevice.length > MAX_LOSS_LINES) lines.push(`                     … and ${r.loss.byDevice.length - MAX_LOSS_LINES} more devices (--json lists all)`);
  const d = r.duplicates;
  lines.push(
    `  duplicates       ${int(d.copies)} extra copies of ${int(d.keys)} readings (${int(d.injected)} sent twice by the device on purpose, ${int(d.unexpected)} unexpected); ${int(d.byId)} repeated record ids`,
    `  reordering       ${int(r.reordered)} backward seq steps (per device and boot, within a shard)`,
    `  unacknowledged   ${int(r.deliveredUnacknowledged)} readings arrived whose ack the simulator never got (not loss)`,
  );
  const i = r.ignored;
  const ignoredTotal = i.notReadings + i.otherDevices + i.unknownBoot + i.withoutSeq + i.seqNeverSent + i.unparseable;
  if (ignoredTotal > 0) {
    lines.push(
      `  ignored          ${int(ignoredTotal)} records: ${int(i.notReadings)} not readings (alarms, aggregates, ...), ${int(i.otherDevices)} from devices not in the ledger, ${int(i.unknownBoot)} from boots not in it (other runs), ` +
        `${int(i.withoutSeq)} without seq, ${int(i.seqNeverSent)} with seqs never sent, ${int(i.unparseable)} not JSON`,
    );
  }
  if (r.latencyMs) {
    const m = r.latencyMs;
    lines.push(
      `  latency          p50 ${m.p50.toFixed(1)} ms, p95 ${m.p95.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, min ${m.min.toFixed(1)} ms, max ${m.max.toFixed(1)} ms`,
      `                   (${m.note})`,
    );
  }
  const failed = !r.ok || (strict && (d.unexpected > 0 || r.reordered > 0));
  lines.push(`  result           ${failed ? `FAILED: ${r.ok ? 'unexpected duplicates or reordering (--strict)' : 'acknowledged readings are missing'}` : 'OK'}`);
  return lines.join('\n');
}
