/**
 * What a person sees while a run is going: on a terminal, one line rewritten
 * every second (rate, acknowledged, in flight, errors, time left); otherwise a
 * plain line on stderr every 5 s, which reads well in CI logs and journald.
 */
import type { ProgressSnapshot } from '../options.js';

const int = (v: number): string => Math.round(v).toLocaleString('en-US');

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatProgressLine(p: ProgressSnapshot): string {
  const planned = Number.isFinite(p.plannedReadings) ? `/${int(p.plannedReadings)}` : '';
  const left = p.timeLeftMs === null ? '' : `, ${formatDuration(p.timeLeftMs)} left`;
  return (
    `[${formatDuration(p.elapsedMs)}] ${int(p.recentRatePerSec)}/s, sent ${int(p.sent)}${planned}, acked ${int(p.acked)}, ` +
    `in flight ${int(p.inflight)}, errors ${int(p.errors)}` +
    (p.deferred > 0 ? `, deferred ${int(p.deferred)}` : '') +
    `, connections ${p.connectedConnections}/${p.connections}${left}`
  );
}

export interface ProgressReporter {
  intervalMs: number;
  onProgress: ((p: ProgressSnapshot) => void) | undefined;
  clear: () => void;
}

export function progressReporter(enabled: boolean, stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): ProgressReporter {
  if (!enabled) return { intervalMs: 1000, onProgress: undefined, clear: () => {} };
  if (stdout.isTTY) {
    const width = (): number => Math.max(20, (stdout.columns || 120) - 1);
    return {
      intervalMs: 1000,
      // Truncated to the terminal width: a wrapped line cannot be rewritten with \r.
      onProgress: (p) => stdout.write(`\r\x1b[2K${formatProgressLine(p).slice(0, width())}`),
      clear: () => stdout.write('\r\x1b[2K'),
    };
  }
  return {
    intervalMs: 5000,
    onProgress: (p) => stderr.write(`${formatProgressLine(p)}\n`),
    clear: () => {},
  };
}
