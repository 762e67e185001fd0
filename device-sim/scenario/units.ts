/**
 * Durations and ratios as people write them in scenario files: "250ms", "10s",
 * "5m", "1h", "1d" or a bare number of seconds (like --duration); "10%" or 0.1.
 */

const DURATION = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)\s*$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export type Duration = number | string;

/** Milliseconds, or null when the value is not a duration. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : null;
  if (typeof v !== 'string') return null;
  const m = DURATION.exec(v);
  if (!m) return null;
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** For values already validated by the schema. */
export function ms(v: Duration): number {
  const out = parseDuration(v);
  if (out === null) throw new RangeError(`not a duration: ${JSON.stringify(v)}`);
  return out;
}

export type Ratio = number | string;

/** A fraction in [0, 1], or null. Accepts 0.05 and "5%". */
export function parseRatio(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*%\s*$/.test(v)) n = Number(v.replace('%', '')) / 100;
  else return null;
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : null;
}

export function ratio(v: Ratio): number {
  const out = parseRatio(v);
  if (out === null) throw new RangeError(`not a ratio: ${JSON.stringify(v)}`);
  return out;
}
