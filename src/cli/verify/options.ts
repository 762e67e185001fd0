/** Parses `--since`: an ISO 8601 time, or a span back from now such as `90s`, `15m`, `2h`, `1d`. */
export function parseSince(text: string, now = Date.now()): Date {
  const span = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (span) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(span[1]) * unit);
  }
  const t = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && Number.isFinite(t)) return new Date(t);
  throw new Error(`--since must be an ISO 8601 time (2026-11-28T08:00:00Z) or a span back from now (90s, 15m, 2h, 1d), got "${text}"`);
}

/** Parses `--duration` in seconds (fractions allowed). */
export function parseDurationSeconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--duration must be a positive number of seconds, got "${text}"`);
  return n;
}
