import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';
import { transformEntrySchema } from '../../../src/pipeline/transform-schemas.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import '../../../src/pipeline/transforms/index.js';
import '../../../src/pipeline/transforms/schemas.js';
import { conservationGap } from '../../../src/buffer/conservation.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import { CrashableStore } from '../../helpers/crashable-store.js';

describe('a window between admission and the buffer', () => {
  it('stores its aggregates and late copies as records of their kind, and the ledger balances', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const ctx = { clock, logger: pino({ level: 'silent' }), metrics: new Metrics() };
    const entry = transformEntrySchema.parse({ type: 'window', name: 'temp_1m', kind: 'tumbling', sizeMs: 60_000, fields: ['t'], aggregates: ['mean', 'count'], allowedLatenessMs: 1_000, idleTimeoutMs: 120_000 });
    const chain = TransformChain.fromConfig([entry], ctx);
    const store = new CrashableStore();
    const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, store.asBufferStore());
    await buffer.open();
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/telemetry'), maxPayloadBytes: 1024 }, new Metrics(), ctx.logger, undefined, chain);
    const minute = 1_700_000_040_000; // a whole minute since the epoch
    const base = minute + 40_000;
    const reading = (deviceId: string, dt: number, t: number, seq: number) => ({ deviceId, topic: `devices/${deviceId}/telemetry`, ts: base + dt, seq, receivedAt: clock.now(), values: { t } });

    await admission.admitReadings('serial:a', [reading('a', 0, 20, 1), reading('a', 10_000, 22, 2), reading('b', 5_000, 30, 1)]);
    await admission.admitReadings('serial:a', [reading('a', 25_000, 24, 3)]); // watermark 64 s: a's first minute closes
    await admission.admitReadings('serial:a', [reading('a', 1_000, 99, 4)]); // late: kept, not counted in the window
    await clock.advance(120_000);
    await admission.onTime(clock.now()); // both went idle: their open windows close
    await admission.admitReadings('serial:a', [reading('a', 130_000, 26, 5)]);
    await admission.flushTransforms(); // a's third minute, partial, on stop
    const stats = buffer.stats();
    expect(stats).toMatchObject({ received: 6, consumed: 5, filtered: 1, produced: 5, buffered: 5 });
    expect(conservationGap(stats)).toBe(0);
    const records = (await buffer.read('telemetry', 0, 10)).map((r) => JSON.parse(r.data.toString()));
    expect(records.map((r) => [r.kind, r.deviceId, r.values, r.result.closedBy ?? null])).toEqual([
      ['aggregate', 'a', { t_mean: 21, t_count: 2 }, 'watermark'],
      ['derived', 'a', { t: 99 }, null],
      ['aggregate', 'b', { t_mean: 30, t_count: 1 }, 'idle'],
      ['aggregate', 'a', { t_mean: 24, t_count: 1 }, 'idle'],
      ['aggregate', 'a', { t_mean: 26, t_count: 1 }, 'stop'],
    ]);
    expect(records[0].result).toMatchObject({ rule: 'temp_1m', window: { kind: 'tumbling', start: minute, end: minute + 60_000 }, count: 2, sources: [{ deviceId: 'a', firstSeq: 1, lastSeq: 2 }] });
    expect(records[1]).toMatchObject({ tags: { late: true }, seq: 4, result: { rule: 'temp_1m', late: { window: 'tumbling' } } });
  });
});
