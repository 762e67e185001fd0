import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

interface Window {
  /** When the line that opened this window was logged. */
  openedAt: number;
  suppressed: number;
}

/**
 * Logs a warning per key (a reason) at most once per interval, so a device sending garbage at 1,000 msg/s
 * cannot flood the log (nothing per reading above debug). What it held back is not silently lost: when the
 * interval of a key ends with occurrences suppressed, one line says how many ("<key>: 37 similar suppressed
 * in the last 10 s"). The interval ends on a timer of the injected clock (so a burst followed by silence still
 * gets its summary), on the next occurrence after it, or on `flush` (the owner's stop), whichever comes first.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();
  private timer: TimerHandle | null = null;
  private timerDue = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly clock: Clock = systemClock,
  ) {}

  warn(key: string, fields: object, message: string): void {
    this.log('warn', key, fields, message);
  }

  /** As `warn`, at error level (the summary of what it held back is a warning). */
  error(key: string, fields: object, message: string): void {
    this.log('error', key, fields, message);
  }

  private log(level: 'warn' | 'error', key: string, fields: object, message: string): void {
    const now = this.clock.now();
    const window = this.windows.get(key);
    if (window && now - window.openedAt < this.intervalMs) {
      window.suppressed += 1;
      this.arm(window.openedAt + this.intervalMs);
      return;
    }
    if (window) this.summarise(key, window, now);
    this.windows.set(key, { openedAt: now, suppressed: 0 });
    this.logger[level](fields, message);
  }

  /** Logs the summary of every key with occurrences suppressed and forgets all windows; for the owner's stop. */
  flush(): void {
    this.disarm();
    const now = this.clock.now();
    for (const [key, window] of this.windows) this.summarise(key, window, now);
    this.windows.clear();
  }

  /** Keys whose interval ended: summarised and forgotten, so their next occurrence logs a first line again. */
  private expire(): void {
    this.timer = null;
    const now = this.clock.now();
    let next = Infinity;
    for (const [key, window] of this.windows) {
      const end = window.openedAt + this.intervalMs;
      if (end <= now) {
        this.summarise(key, window, now);
        this.windows.delete(key);
      } else if (window.suppressed > 0) next = Math.min(next, end);
    }
    if (next !== Infinity) this.arm(next);
  }

  private summarise(key: string, window: Window, now: number): void {
    if (window.suppressed === 0) return;
    const spanMs = Math.min(now - window.openedAt, this.intervalMs);
    this.logger.warn({ key, suppressed: window.suppressed, spanMs }, `${key}: ${window.suppressed} similar suppressed in the last ${formatSpan(spanMs)}`);
    window.suppressed = 0;
  }

  /** One timer for all keys, due at the earliest end of a window that has something to summarise. */
  private arm(due: number): void {
    if (this.timer !== null && this.timerDue <= due) return;
    this.disarm();
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => this.expire(), Math.max(0, due - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

function formatSpan(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}
