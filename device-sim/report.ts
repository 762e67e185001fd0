/**
 * Presentation of results: human summary, one-line JSON, progress lines and the
 * --report file. Kept apart from the simulator so the API returns plain data
 * and output format changes never touch the publishing loop.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProgressSnapshot } from './options.js';
import type { SimulationSummary } from './simulator.js';

/** Exit-code rule: everything sent was acknowledged (QoS>0) / written (QoS 0) and the run was not cut off by its safety deadline. */
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

export function formatSummaryText(s: SimulationSummary): string {
  const ackLabel = s.qos === 0 ? 'written (QoS 0)' : 'acknowledged';
  const lines = [
    `device-sim summary (${s.url}, QoS ${s.qos}, seed ${s.seed})`,
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

export function formatProgressLine(p: ProgressSnapshot): string {
  const planned = Number.isFinite(p.plannedReadings) ? `/${int(p.plannedReadings)}` : '';
  return (
    `[${(p.elapsedMs / 1000).toFixed(0)}s] sent ${int(p.sent)}${planned}, acked ${int(p.acked)}, ` +
    `inflight ${int(p.inflight)}, failed ${int(p.failed)}, deferred ${int(p.deferred)}, ` +
    `${int(p.recentRatePerSec)}/s, connections ${p.connectedConnections}/${p.connections}` +
    (p.connectionErrors > 0 ? `, connection errors ${int(p.connectionErrors)}` : '')
  );
}

/** Writes summary + ledger as pretty JSON via a temp file, so readers never see half a report. */
export async function writeReport(file: string, s: SimulationSummary): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ ...s, ok: isSuccessful(s) }, null, 2)}\n`);
  await rename(tmp, file);
}
