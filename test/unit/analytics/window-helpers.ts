import { pino } from 'pino';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { windowSchema, type WindowConfig } from '../../../src/analytics/windows/schema.js';
import { WindowTransform } from '../../../src/analytics/windows/window-transform.js';
import type { ProducedRecord, TransformContext, TransformResult } from '../../../src/pipeline/transform.js';
import type { PendingReading } from '../../../src/buffer/types.js';

export function ctxAt(start = 0): TransformContext & { clock: ManualClock; metrics: Metrics } {
  return { clock: new ManualClock(start), logger: pino({ level: 'silent' }), metrics: new Metrics() };
}

/** A window transform from a config slice as the YAML would give it (defaults applied by the schema). */
export function makeWindow(slice: Record<string, unknown>, id = 'window#0'): WindowTransform {
  return new WindowTransform(id, windowSchema.parse(slice) as WindowConfig);
}

export function reading(deviceId: string, ts: number | undefined, values: Record<string, number>, extra: Partial<PendingReading> = {}): PendingReading {
  return { deviceId, topic: `devices/${deviceId}/telemetry`, ...(ts !== undefined ? { ts } : {}), receivedAt: extra.receivedAt ?? ts ?? 0, values, ...extra };
}

/** The produced records of a result (process) or a list (onTime, flush). */
export function producedOf(result: TransformResult | readonly ProducedRecord[]): ProducedRecord[] {
  return Array.isArray(result) ? [...result] : [...((result as TransformResult).produced ?? [])];
}

export interface WindowResult {
  key: string;
  start: number;
  end: number;
  count: number;
  values: Record<string, number>;
  closedBy: string;
}

/** The essentials of an aggregate record, for comparing with expectations. */
export function summary(record: ProducedRecord): WindowResult {
  const result = record.reading.result as { window: { start: number; end: number }; count: number; closedBy: string };
  return { key: record.reading.deviceId, start: result.window.start, end: result.window.end, count: result.count, values: record.reading.values as Record<string, number>, closedBy: result.closedBy };
}
