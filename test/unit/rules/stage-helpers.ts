import { pino } from 'pino';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { TransformContext } from '../../../src/pipeline/transform.js';
import type { PendingReading } from '../../../src/buffer/types.js';

export function stageContext(start = 0): TransformContext & { clock: ManualClock; metrics: Metrics } {
  return { clock: new ManualClock(start), logger: pino({ level: 'silent' }), metrics: new Metrics() };
}

export const reading = (deviceId: string, values: PendingReading['values'], ts?: number, extra: Partial<PendingReading> = {}): PendingReading => ({
  deviceId,
  topic: `devices/${deviceId}/telemetry`,
  receivedAt: ts ?? 0,
  ...(ts !== undefined ? { ts } : {}),
  values,
  ...extra,
});
