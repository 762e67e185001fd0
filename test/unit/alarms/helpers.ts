import { ManualClock } from '../../../src/core/clock.js';
import { DetectTransform } from '../../../src/analytics/alarms/detect-transform.js';
import { detectSchema } from '../../../src/analytics/alarms/schema.js';
import type { ProducedRecord } from '../../../src/pipeline/transform.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { transformContext } from '../../contract/transform.contract.js';

export const T0 = 1_700_000_000_000;

/** A detect transform on a ManualClock, fed like the chain feeds it, keeping every record it made. */
export function rig(config: Record<string, unknown>) {
  const clock = new ManualClock(T0);
  const ctx = transformContext(clock);
  const transform = new DetectTransform('detect#0', detectSchema.parse(config));
  const records: ProducedRecord[] = [];
  let seq = 0;
  const feed = (value: number, opts: { deviceId?: string; advanceMs?: number; tags?: Record<string, string> } = {}) => {
    if (opts.advanceMs) clock.advance(opts.advanceMs);
    const reading: PendingReading = { deviceId: opts.deviceId ?? 'th-1', topic: 'devices/th-1/telemetry', seq: seq++, ts: clock.now(), receivedAt: clock.now(), values: { t: value }, ...(opts.tags ? { tags: opts.tags } : {}) };
    const result = transform.process(reading, ctx);
    records.push(...(result.produced ?? []));
    return result;
  };
  const tick = (advanceMs: number) => {
    clock.advance(advanceMs);
    const out = transform.onTime(clock.now(), ctx);
    records.push(...out);
    return out;
  };
  const transitions = () => records.map((r) => (r.reading.result as { transition: string }).transition);
  return { clock, ctx, transform, records, feed, tick, transitions };
}
