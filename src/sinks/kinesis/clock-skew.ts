import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';

// SigV4 requests are refused ("Signature expired") beyond about 5 minutes of skew; a minute is already worth
// telling: reading timestamps (receivedAt) come from this clock.
const WARN_ABOVE_MS = 60_000;
const CHECK_EVERY_MS = 10_000;

/**
 * Reports the clock skew between this machine and AWS. The SDK measures it from the Date header of every
 * reply and signs later requests with the corrected time (its systemClockOffset), so a Raspberry Pi that
 * booted without NTP still delivers; this makes the skew visible: a gauge, and a warning when it appears,
 * grows or goes away.
 */
export class ClockSkewReporter {
  private timer: NodeJS.Timeout | null = null;
  private reported = 0;

  constructor(
    private readonly offsetMs: () => number,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    metrics.gauge('kinesis_clock_offset_seconds', () => this.offsetMs() / 1000);
  }

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Logs when the skew crosses the threshold or moves by more than a minute since the last report. */
  check(): void {
    const offset = this.offsetMs();
    const big = Math.abs(offset) > WARN_ABOVE_MS;
    const wasBig = Math.abs(this.reported) > WARN_ABOVE_MS;
    if (big && (!wasBig || Math.abs(offset - this.reported) > WARN_ABOVE_MS)) {
      this.reported = offset;
      this.logger.warn(
        { clockOffsetSeconds: Math.round(offset / 1000) },
        `this machine's clock is ${Math.abs(Math.round(offset / 1000))} s ${offset > 0 ? 'behind' : 'ahead of'} AWS: requests are signed with the corrected time, ` +
          'but reading timestamps (receivedAt) are off by as much; check NTP (timedatectl status)',
      );
    } else if (!big && wasBig) {
      this.reported = offset;
      this.logger.info({ clockOffsetSeconds: Math.round(offset / 1000) }, 'clock skew to AWS is gone');
    }
  }
}
