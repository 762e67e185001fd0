import type { Logger } from '../../core/logger.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';

/**
 * A stage's warnings about readings it could not use (an expression that failed on a reading), at most one a
 * minute per stage and cause: a sensor that lost a field sends it at its own rate, and the counter carries the
 * number. Created on first use, since the logger comes with the context.
 */
export class StageWarnings {
  private log: RateLimitedLog | undefined;

  constructor(private readonly stageId: string) {}

  warn(logger: Logger, cause: string, fields: object, message: string): void {
    this.log ??= new RateLimitedLog(logger, 60_000);
    this.log.warn(`${this.stageId}:${cause}`, { stage: this.stageId, ...fields }, message);
  }
}
