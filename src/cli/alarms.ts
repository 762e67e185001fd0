import type { AlarmSummary } from '../analytics/alarms/alarm-service.js';
import { TidegateError } from '../core/errors.js';
import { bufferRequest } from './buffer-access.js';

export interface AlarmsOptions {
  config: string;
  json?: boolean;
}

const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());

/** `tidegate alarms list`: the raised and shelved alarms of the running gateway (every tracked series with --all). */
export async function alarmsListCommand(o: AlarmsOptions & { rule?: string; all?: boolean }): Promise<number> {
  const alarms = (await bufferRequest(o.config, { op: 'alarms.list', ...(o.rule !== undefined ? { rule: o.rule } : {}), all: o.all === true })) as AlarmSummary[];
  if (o.json) {
    for (const a of alarms) process.stdout.write(`${JSON.stringify(a)}\n`);
    return 0;
  }
  for (const a of alarms) {
    const shelf = a.shelvedUntil !== null ? `  shelved until ${iso(a.shelvedUntil)}` : '';
    process.stdout.write(`${a.rule}/${a.deviceId}  ${a.state}  ${a.severity}  ${a.detector} value ${a.value} threshold ${a.threshold}  raised ${iso(a.raisedAt)}${shelf}\n`);
  }
  process.stderr.write(`${alarms.length} alarm(s)\n`);
  return 0;
}

/** `tidegate alarms ack <rule> <deviceId>`: marks the raised alarm as seen (committed like any transition). */
export async function alarmsAckCommand(rule: string, deviceId: string, o: AlarmsOptions): Promise<number> {
  const r = await bufferRequest(o.config, { op: 'alarms.ack', rule, deviceId });
  process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `acknowledged ${rule}/${deviceId}\n`);
  return 0;
}

/** `tidegate alarms shelve <rule> <deviceId> --for 2h | --until <time> | --off`. */
export async function alarmsShelveCommand(rule: string, deviceId: string, o: AlarmsOptions & { for?: string; until?: string; off?: boolean }, now = Date.now()): Promise<number> {
  const until = shelfEnd(o, now);
  const r = (await bufferRequest(o.config, { op: 'alarms.shelve', rule, deviceId, until })) as { until: number | null };
  process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : r.until === null ? `unshelved ${rule}/${deviceId}\n` : `shelved ${rule}/${deviceId} until ${iso(r.until)}\n`);
  return 0;
}

/** When the shelf ends, from exactly one of --for (90s, 15m, 2h, 1d), --until (ISO 8601) and --off. */
export function shelfEnd(o: { for?: string; until?: string; off?: boolean }, now: number): number {
  const given = [o.for !== undefined, o.until !== undefined, o.off === true].filter(Boolean).length;
  if (given !== 1) throw new TidegateError('ERR_USAGE', 'give exactly one of --for <span> (90s, 15m, 2h, 1d), --until <ISO 8601 time> or --off');
  if (o.off) return 0;
  if (o.for !== undefined) {
    const span = /^(\d+)(s|m|h|d)$/.exec(o.for.trim());
    if (!span) throw new TidegateError('ERR_USAGE', `--for must be a span like 90s, 15m, 2h or 1d, got "${o.for}"`);
    return now + Number(span[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 's' | 'm' | 'h' | 'd'];
  }
  const t = Date.parse(o.until!);
  if (!/^\d{4}-\d{2}-\d{2}/.test(o.until!) || !Number.isFinite(t)) throw new TidegateError('ERR_USAGE', `--until must be an ISO 8601 time (2026-11-28T08:00:00Z), got "${o.until}"`);
  if (t <= now) throw new TidegateError('ERR_USAGE', `--until ${o.until} is not in the future (use --off to unshelve)`);
  return t;
}
