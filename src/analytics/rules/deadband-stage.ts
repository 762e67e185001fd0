import { filter, pass, type StateOp, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { registerTransform } from '../../pipeline/registry.js';
import type { DeadbandStageConfig } from './deadband-schema.js';
import type { PendingReading } from '../../buffer/types.js';
import type { ReadingValue } from '../../normalize/reading.js';

interface Reported {
  value: ReadingValue;
  /** Event time (device ts, else received time) of the report. */
  at: number;
}

/**
 * `deadband`: report by exception (Node-RED's rbe, OPC UA's deadband filter), per device and field, against
 * the last *reported* value — not the last seen, so a slow drift is reported once it adds up. Non-numeric
 * values are reported when they change. The last reported values are checkpointed with the readings, so
 * after a restart a flat sensor is not reported again just because the gateway forgot it.
 */
export class DeadbandStage implements Transform {
  /** Insertion order is report order: the first entry is the series reported longest ago. */
  private readonly last = new Map<string, Reported>();
  private readonly dirty = new Set<string>();

  constructor(
    readonly id: string,
    private readonly config: DeadbandStageConfig,
  ) {}

  attach(ctx: TransformContext): void {
    ctx.metrics.counter('deadband_series_evicted_total', { stage: this.id });
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    const at = reading.ts ?? reading.receivedAt;
    let present = 0;
    let report = false;
    for (const field of this.config.fields) {
      const value = reading.values[field];
      if (value === undefined) continue;
      present += 1;
      if (!report && this.moved(seriesKey(reading.deviceId, field), value, at)) report = true;
    }
    if (present === 0) return pass(reading);
    if (!report) return filter('within_deadband');
    for (const field of this.config.fields) {
      const value = reading.values[field];
      if (value !== undefined) this.remember(seriesKey(reading.deviceId, field), value, at, ctx);
    }
    return pass(reading);
  }

  private moved(key: string, value: ReadingValue, at: number): boolean {
    const previous = this.last.get(key);
    if (!previous) return true;
    if (at - previous.at >= this.config.maxSilenceMs) return true;
    if (typeof value !== 'number' || typeof previous.value !== 'number') return value !== previous.value;
    const delta = Math.abs(value - previous.value);
    if (this.config.absolute !== undefined) return delta > this.config.absolute;
    return previous.value === 0 ? delta > 0 : (delta / Math.abs(previous.value)) * 100 > this.config.percent!;
  }

  private remember(key: string, value: ReadingValue, at: number, ctx: TransformContext): void {
    const previous = this.last.get(key);
    this.last.delete(key);
    // An older reading reported late (out of order) does not move the heartbeat back.
    this.last.set(key, { value, at: previous ? Math.max(previous.at, at) : at });
    this.dirty.add(key);
    while (this.last.size > this.config.maxSeries) {
      const oldest = this.last.keys().next().value!;
      this.last.delete(oldest);
      this.dirty.add(oldest);
      ctx.metrics.inc('deadband_series_evicted_total', { stage: this.id });
    }
  }

  checkpoint(): readonly StateOp[] {
    const ops: StateOp[] = [];
    for (const key of this.dirty) {
      const entry = this.last.get(key);
      ops.push(entry ? { type: 'put', key, value: JSON.stringify([entry.value, entry.at]) } : { type: 'del', key });
    }
    this.dirty.clear();
    return ops;
  }

  restore(state: ReadonlyMap<string, string>): void {
    this.last.clear();
    this.dirty.clear();
    const entries: [string, Reported][] = [];
    for (const [key, raw] of state) {
      const parsed = JSON.parse(raw) as [ReadingValue, number];
      entries.push([key, { value: parsed[0], at: parsed[1] }]);
    }
    // Back in report order, so eviction after a restart still forgets the longest-quiet series first.
    entries.sort((a, b) => a[1].at - b[1].at);
    for (const [key, entry] of entries) this.last.set(key, entry);
  }

  /** How many series are remembered (for tests and the rules card). */
  get series(): number {
    return this.last.size;
  }
}

function seriesKey(deviceId: string, field: string): string {
  return JSON.stringify([deviceId, field]);
}

registerTransform<DeadbandStageConfig>({ type: 'deadband', create: (config, id) => new DeadbandStage(id, config) });
