/** The alarm score as a person reads it; JSON output is the AlarmAuditResult itself. */
import type { AlarmAuditResult } from './alarm-audit.js';
import type { LatencySummary } from './alarm-score.js';

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
const lat = (l: LatencySummary | null): string => (l === null ? 'no detections' : `p50 ${int(l.p50)} ms, p95 ${int(l.p95)} ms, p99 ${int(l.p99)} ms, max ${int(l.max)} ms`);
const MAX_LIST = 10;

export function formatAlarmScore(r: AlarmAuditResult): string {
  const a = r.alarms;
  const others = Object.entries(a.otherTransitions).map(([k, n]) => `${k} ${int(n)}`);
  const lines = [
    `device-sim alarm score: ${r.source} (tolerance ${int(r.toleranceMs)} ms after an episode ends)`,
    `  alarms           ${int(r.raises)} raises scored${a.repeatedRaises ? ` (${int(a.repeatedRaises)} repeats of a raise ignored)` : ''}${others.length ? `; other transitions: ${others.join(', ')}` : ''}`,
  ];
  const skipped = r.outOfScope.otherDevices + r.outOfScope.beforeRun + a.malformed;
  if (skipped > 0) {
    lines.push(`  left out         ${int(r.outOfScope.otherDevices)} raises of devices not in the report, ${int(r.outOfScope.beforeRun)} before the run started, ${int(a.malformed)} malformed alarm records`);
  }
  lines.push(
    `  precision        ${pct(r.precision)} (${int(r.matchedRaises)} of ${int(r.raises)} raises during an anomaly; ${int(r.falsePositives)} false positives)`,
    `  recall           ${pct(r.recall)} (${int(r.detected)} of ${int(r.episodes)} episodes detected)`,
    `  latency          ${lat(r.latencyMs)} (first raise - anomaly start)`,
    `  flaps            ${int(r.flaps)} extra raises, ${r.flapsPerEpisode === null ? 'n/a' : r.flapsPerEpisode.toFixed(2)} per detected episode (max ${int(r.maxFlaps)})`,
  );
  for (const [kind, k] of Object.entries(r.byKind)) {
    lines.push(
      `    ${kind.padEnd(8)}       recall ${pct(k.recall)} (${int(k.detected)}/${int(k.episodes)}), latency ${lat(k.latencyMs)}, flaps ${int(k.flaps)}`,
    );
  }
  for (const m of r.missed.slice(0, MAX_LIST)) lines.push(`  missed           ${m.kind} ${m.device}${m.field ? `.${m.field}` : ''} ${new Date(m.start).toISOString()} (${m.episodeId})`);
  if (r.episodes - r.detected > MAX_LIST) lines.push(`                   … and ${int(r.episodes - r.detected - MAX_LIST)} more (--json lists up to 50)`);
  for (const f of r.falsePositiveRaises.slice(0, MAX_LIST)) {
    lines.push(`  false positive   ${f.rule || '(no rule)'} ${f.deviceId}${f.field ? `.${f.field}` : ''} ${new Date(f.at).toISOString()}`);
  }
  if (r.falsePositives > MAX_LIST) lines.push(`                   … and ${int(r.falsePositives - MAX_LIST)} more (--json lists up to 50)`);
  return lines.join('\n');
}
