import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';
import { consume, type ProducedRecord, type Transform } from '../../../src/pipeline/transform.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import { DropFields } from '../../../src/pipeline/transforms/drop-fields.js';
import { conservationGap } from '../../../src/buffer/conservation.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import { CrashableStore } from '../../helpers/crashable-store.js';
import type { PendingReading } from '../../../src/buffer/types.js';

/** A tumbling window of `windowMs` summing `t` per device, closed by time (onTime) or on stop (flush). */
class SumWindow implements Transform {
  readonly id = 'sum_window#0';
  private sums = new Map<string, { sum: number; n: number; start: number }>();
  constructor(private readonly windowMs: number) {}
  process(reading: PendingReading) {
    const w = this.sums.get(reading.deviceId) ?? { sum: 0, n: 0, start: reading.receivedAt };
    w.sum += Number(reading.values.t ?? 0);
    w.n += 1;
    this.sums.set(reading.deviceId, w);
    return consume();
  }
  onTime(now: number): ProducedRecord[] {
    const closed = [...this.sums].filter(([, w]) => now - w.start >= this.windowMs);
    for (const [id] of closed) this.sums.delete(id);
    return closed.map(([deviceId, w]) => ({ kind: 'aggregate', lane: 'telemetry', reading: { deviceId, topic: 'agg', receivedAt: now, values: { sum: w.sum, n: w.n, debug: 'x' } } }));
  }
  flush(): ProducedRecord[] {
    return this.onTime(Infinity);
  }
}

describe('a stateful transform in the chain', () => {
  it('is told the time by the injected clock, and what it produces goes through later transforms and balances the ledger', async () => {
    const clock = new ManualClock(0);
    const ctx = { clock, logger: pino({ level: 'silent' }), metrics: new Metrics() };
    const chain = new TransformChain([new SumWindow(1_000), new DropFields('drop_fields#1', { fields: ['debug'] })], ctx);
    const store = new CrashableStore();
    const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, store.asBufferStore());
    await buffer.open();
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/telemetry'), maxPayloadBytes: 1024 }, new Metrics(), ctx.logger, undefined, chain);
    const reading = (deviceId: string, t: number) => ({ deviceId, topic: `devices/${deviceId}/telemetry`, receivedAt: clock.now(), values: { t } });

    await admission.admitReadings('serial:a', [reading('a', 1), reading('a', 2), reading('b', 10)]);
    expect(buffer.stats()).toMatchObject({ received: 3, consumed: 3, buffered: 0, produced: 0 });
    await clock.advance(500);
    expect(await admission.onTime(clock.now())).toMatchObject({ accepted: 0, produced: 0 });
    await admission.admitReadings('serial:a', [reading('b', 5)]);
    await clock.advance(500);
    expect(await admission.onTime(clock.now())).toMatchObject({ accepted: 2, produced: 2 });
    expect(conservationGap(buffer.stats())).toBe(0);
    const records = (await buffer.read('telemetry', 0, 10)).map((r) => JSON.parse(r.data.toString()).values);
    expect(records).toEqual([{ sum: 3, n: 2 }, { sum: 15, n: 2 }]);

    await admission.admitReadings('serial:a', [reading('c', 7)]);
    expect(await admission.flushTransforms()).toMatchObject({ accepted: 1, produced: 1 });
    // Only what was committed survives: reopen the buffer on what the crashed store kept.
    const survivor = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, (await store.crash()).asBufferStore());
    await survivor.open();
    const durable = survivor.stats();
    expect(durable).toMatchObject({ received: 5, consumed: 5, produced: 3, buffered: 3 });
    expect(conservationGap(durable)).toBe(0);
  });
});
