import type { StatusReport } from '../control/handler.js';
import { sumReasons } from '../buffer/conservation.js';
import { bufferRequest } from './buffer-access.js';

const n = (x: number): string => x.toLocaleString('en-US');

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const reasons = (m: Record<string, number>): string =>
  Object.entries(m)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || '-';

/** The numbers an operator checks first, as a compact table. */
export function formatStatus(s: StatusReport): string {
  const b = s.buffer;
  const rows: Array<[string, string]> = [
    ['gateway', `${s.gatewayId} (${s.running ? `running, pid ${s.pid}, up ${s.uptimeS ?? 0} s` : 'not running'})`],
    ['health', s.health ? `${s.health.status}${s.health.reasons.length ? `: ${s.health.reasons.join('; ')}` : ''}` : b.degraded ? `degraded: ${b.degraded}` : '-'],
    ['data dir', s.dataDir],
    ['received', n(b.received)],
    ['delivered', n(b.delivered)],
    ['buffered', `${n(b.buffered)} (${mib(b.bufferedBytes)} of ${mib(b.maxBytes)}, ${((100 * b.bufferedBytes) / b.maxBytes).toFixed(1)}%; when full: ${b.whenFull})`],
    ['dead-lettered', `${n(sumReasons(b.deadLettered))} (${reasons(b.deadLettered)}); ${n(b.deadLettersStored)} kept`],
    ['dropped', `${n(sumReasons(b.dropped))} (${reasons(b.dropped)})`],
    ['filtered', n(b.filtered)],
    ['consumed', n(b.consumed)],
    ['produced', n(b.produced)],
    ['conservation', s.conservationGap === 0 ? 'balanced (received + produced = delivered + buffered + dead-lettered + dropped + filtered + consumed)' : `OFF BY ${n(s.conservationGap)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** `tidegate status`: for a running gateway (over its control socket) or a stopped one's data dir. */
export async function statusCommand(configFile: string, json: boolean): Promise<number> {
  const report = (await bufferRequest(configFile, { op: 'status' })) as StatusReport;
  process.stdout.write(`${json ? JSON.stringify(report) : formatStatus(report)}\n`);
  return report.conservationGap === 0 ? 0 : 1;
}
