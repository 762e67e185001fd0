/**
 * Presentation of results: human summary, one-line JSON and the --report
 * file. Kept apart from the simulator so the API returns plain data and output
 * format changes never touch the publishing loop.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SimulationSummary } from './simulator.js';

/** Exit-code rule: everything sent was acknowledged (QoS>0) / written (QoS 0, serial) and the run was not cut off by its safety deadline. */
export function isSuccessful(summary: SimulationSummary): boolean {
  return summary.failed === 0 && summary.stopReason !== 'deadline';
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');

const STOP_LABELS: Record<SimulationSummary['stopReason'], string> = {
  count: '--count reached',
  duration: '--duration elapsed',
  deadline: 'safety deadline',
  aborted: 'signal/abort',
};

function faultLine(s: SimulationSummary): string | undefined {
  const f = s.faults;
  const parts: string[] = [];
  if (f.duplicatesSent) parts.push(`duplicates ${int(f.duplicatesSent)}`);
  if (f.malformedSent) parts.push(`malformed ${int(f.malformedSent)}`);
  if (f.oversizeSent) parts.push(`oversize ${int(f.oversizeSent)}`);
  if (f.noiseSent) parts.push(`noise ${int(f.noiseSent)}`);
  if (f.reboots) parts.push(`reboots ${int(f.reboots)}`);
  if (f.storms) parts.push(`disconnect storms ${int(f.storms)} (${int(f.droppedConnections)} connections dropped)`);
  if (f.extraErrors) parts.push(`errors on injected publishes ${int(f.extraErrors)}`);
  return parts.length ? `  faults injected  ${parts.join(', ')}` : undefined;
}

export function formatSummaryText(s: SimulationSummary): string {
  const ackLabel = s.qos === 0 || s.transport === 'serial' ? `written (${s.transport === 'serial' ? 'serial' : 'QoS 0'})` : 'acknowledged';
  const lines = [
    `device-sim summary (${s.url}${s.transport === 'mqtt' ? `, QoS ${s.qos}` : ''}, seed ${s.seed}${s.scenario ? `, scenario ${s.scenario}` : ''})`,
    `  devices          ${int(s.deviceCount)}`,
    `  connections      ${int(s.connectionCount)}`,
    `  sent             ${int(s.sent)}`,
    `  ${ackLabel.padEnd(16)} ${int(s.acked)}`,
    `  failed           ${int(s.failed)} (publish errors ${int(s.publishErrors)}, unacked at exit ${int(s.unackedAtExit)})`,
    `  connection errs  ${int(s.connectionErrors)} (reconnects ${int(s.reconnects)})`,
    `  deferred         ${int(s.deferred)} (in-flight window full)`,
    `  duration         ${(s.durationMs / 1000).toFixed(2)} s (stopped: ${STOP_LABELS[s.stopReason]})`,
    `  rate             ${int(s.ratePerSec)} readings/s (target ${int(s.targetRatePerSec)})`,
  ];
  if (s.ackLatencyMs) {
    const l = s.ackLatencyMs;
    lines.push(`  PUBACK latency   p50 ${l.p50.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(2)} ms`);
  }
  const faults = faultLine(s);
  if (faults) lines.push(faults);
  if (s.anomalies.episodes > 0 || s.anomalies.truthFile) {
    const kinds = Object.entries(s.anomalies.byKind).map(([k, n]) => `${k} ${int(n)}`);
    lines.push(`  anomalies        ${int(s.anomalies.episodes)} episodes${kinds.length ? ` (${kinds.join(', ')})` : ''}${s.anomalies.truthFile ? `, ground truth in ${s.anomalies.truthFile}` : ''}`);
  }
  if (s.stopReason === 'deadline') {
    lines.push('  result           FAILED: --count was not reached before the safety deadline (2x the nominal time + 30 s); pass --duration to set the limit explicitly');
  } else {
    lines.push(`  result           ${isSuccessful(s) ? 'OK' : 'FAILED: not every reading was acknowledged'}`);
  }
  return lines.join('\n');
}

/** The summary without the per-device ledger, which can be huge; that goes to --report. */
export function summaryJsonLine(s: SimulationSummary): string {
  const { devices: _ledger, ...rest } = s;
  return JSON.stringify({ ...rest, ok: isSuccessful(s) });
}

/**
 * The report: summary fields pretty-printed, then the ledger with one device
 * per line, so ranges stay compact ([[1,500],[502,900]]) and 10,000 devices
 * make 10,000 greppable lines rather than a million indented ones.
 */
export function reportJson(s: SimulationSummary): string {
  const { devices, ...rest } = s;
  const head = JSON.stringify({ ...rest, ok: isSuccessful(s) }, null, 2);
  const body = devices.map((d) => `    ${JSON.stringify(d)}`).join(',\n');
  return `${head.slice(0, -2)},\n  "devices": [\n${body}${devices.length ? '\n' : ''}  ]\n}\n`;
}

/** Writes the report via a temp file, so readers never see half a report. */
export async function writeReport(file: string, s: SimulationSummary): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, reportJson(s));
  await rename(tmp, file);
}
