import type { Admission } from '../../admission.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import type { Reading, Rejection } from '../../normalize/reading.js';

export interface ReadingBatcherOptions {
  portName: string;
  /** The port's path, as the origin of dead letters. */
  origin: string;
  /** Readings (plus rejected lines) waiting for a commit beyond which the port is paused. */
  maxPending: number;
  admission: Admission;
  metrics: Metrics;
  logger: Logger;
  /** true: stop reading the port; false: read again. */
  onPressure(paused: boolean): void;
}

/** Readings appended in one call: well below a group commit's batch size, so one call never monopolises it. */
const MAX_PER_APPEND = 1_000;

interface PendingReject {
  payload: Buffer;
  rejection: Rejection;
  receivedAt: number;
}

/**
 * Collects what arrived on a port while the previous commit was in flight and appends it in one go: many
 * lines share one group commit (one fsync). Everything waiting is bounded: past `maxPending` the port is
 * paused, and it reads again once the backlog is down to half (or has moved into a commit).
 */
export class ReadingBatcher {
  private readings: Reading[] = [];
  private rejects: PendingReject[] = [];
  private running: Promise<void> | null = null;
  private isPaused = false;

  constructor(private readonly opts: ReadingBatcherOptions) {}

  get paused(): boolean {
    return this.isPaused;
  }

  get pending(): number {
    return this.readings.length + this.rejects.length;
  }

  add(reading: Reading): void {
    this.readings.push(reading);
    this.checkPressure();
  }

  reject(payload: Buffer, rejection: Rejection, receivedAt: number): void {
    this.opts.metrics.inc('serial_frame_errors_total', { port: this.opts.portName, reason: rejection.reason });
    this.rejects.push({ payload, rejection, receivedAt });
    this.checkPressure();
  }

  /** Starts a commit of whatever is waiting, unless one is already running (it picks the rest up after). */
  flush(): void {
    if (this.running || this.pending === 0) return;
    this.running = this.drain();
  }

  /** Resolves when nothing is waiting and no commit is in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Gives up on what is still waiting (shutdown past its deadline), counted. */
  abandon(reason: string): void {
    const lost = this.readings.length;
    this.readings = [];
    this.rejects = [];
    if (lost > 0) {
      this.opts.metrics.inc('serial_readings_lost_total', { port: this.opts.portName, reason }, lost);
      this.opts.logger.error({ port: this.opts.portName, readings: lost, reason }, 'serial readings not committed before shutdown were lost (a serial line cannot resend them)');
    }
  }

  private async drain(): Promise<void> {
    try {
      await this.drainLoop();
    } finally {
      // Cleared in the same turn as the loop's last "nothing pending" check: a line arriving right after it
      // starts a new drain instead of finding this one still marked as running.
      this.running = null;
    }
  }

  private async drainLoop(): Promise<void> {
    while (this.pending > 0) {
      const readings = this.readings;
      const rejects = this.rejects;
      this.readings = [];
      this.rejects = [];
      // The backlog moved into a commit: the port may read the next batch meanwhile (at most 2 × maxPending held).
      this.checkPressure();
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < readings.length; i += MAX_PER_APPEND) {
        work.push(this.opts.admission.admitReadings(`serial:${this.opts.portName}`, readings.slice(i, i + MAX_PER_APPEND)));
      }
      for (const r of rejects) {
        work.push(this.opts.admission.rejectMessage({ source: `serial:${this.opts.portName}`, topic: `serial/${this.opts.portName}`, payload: r.payload, origin: this.opts.origin, receivedAt: r.receivedAt }, r.rejection));
      }
      const results = await Promise.allSettled(work);
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed >= 0) {
        // A commit that failed (the buffer closed, a stalled disk) cannot be retried by the device: count it.
        let lost = 0;
        for (let i = 0; i * MAX_PER_APPEND < readings.length; i++) if (results[i]!.status === 'rejected') lost += Math.min(MAX_PER_APPEND, readings.length - i * MAX_PER_APPEND);
        this.opts.metrics.inc('serial_readings_lost_total', { port: this.opts.portName, reason: 'commit_failed' }, lost);
        this.opts.logger.error(
          { port: this.opts.portName, readings: lost, err: describeError((results[failed] as PromiseRejectedResult).reason) },
          'serial readings could not be committed to the buffer and are lost (a serial line cannot resend them)',
        );
      }
      this.checkPressure();
    }
  }

  private checkPressure(): void {
    const pending = this.pending;
    if (!this.isPaused && pending >= this.opts.maxPending) {
      this.isPaused = true;
      this.opts.metrics.inc('serial_pauses_total', { port: this.opts.portName });
      this.opts.onPressure(true);
    } else if (this.isPaused && pending <= this.opts.maxPending / 2) {
      this.isPaused = false;
      this.opts.onPressure(false);
    }
  }
}
