import type { Clock, TimerHandle } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Component, ComponentContext } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { PipelineConfig } from './config.js';

/** What the ticker drives: admission's entries for time and stop (so produced records are committed there). */
export interface TimeDriven {
  onTime(now: number): Promise<unknown>;
  flushTransforms(): Promise<unknown>;
}

/**
 * Tells the stateful transforms the time on the injected clock, so a window closes and a silent device is
 * noticed when no reading arrives (the case that windows closed only by the next reading get wrong). One
 * tick at a time: a tick waiting on a slow disk delays the next instead of piling up behind it.
 *
 * Started after the sinks and before the sources, so on stop the sources have gone quiet before the
 * transforms flush (or keep their checkpoints), and the sinks are still there to take what a flush made.
 */
export class TransformTicker implements Component {
  readonly id = 'transforms';
  private clock!: Clock;
  private logger!: Logger;
  private timer: TimerHandle | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly target: TimeDriven,
    private readonly config: Pick<PipelineConfig, 'tickMs'>,
  ) {}

  async start(ctx: ComponentContext): Promise<void> {
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    this.schedule();
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    if (deadline.aborted) return;
    // Each transform's flush decides (a window's `onStop`: emit partial windows now, or keep them): kept
    // state is already on disk, committed with the readings it holds, and the next start carries on from it.
    await this.target.flushTransforms();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        this.schedule();
      });
    }, this.config.tickMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.target.onTime(this.clock.now());
      if (this.failures > 0) this.logger.info({ failures: this.failures }, 'transform ticks succeed again');
      this.failures = 0;
    } catch (err) {
      // The produced records were not committed and the state was re-read; the next tick produces them again.
      this.failures += 1;
      if (this.failures === 1) this.logger.error({ err: describeError(err) }, 'a transform tick could not be committed; it is retried on the next tick');
    }
  }
}
