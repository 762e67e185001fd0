import type { Logger } from 'pino';

/**
 * Logs a warning per key at most once per interval, with the number of occurrences it summarised, so a
 * device sending garbage at 1,000 msg/s cannot flood the log (nothing per reading above debug).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, fields: object, message: string): void {
    const now = Date.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    this.logger.warn(suppressed > 0 ? { ...fields, similarSinceLastLog: suppressed } : fields, message);
  }
}
