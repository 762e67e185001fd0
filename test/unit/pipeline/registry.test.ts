import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Admission } from '../../../src/admission.js';
import { validateConfig } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';
import { registerTransform, transformTypes } from '../../../src/pipeline/registry.js';
import { registerTransformSchema, transformSchemaTypes } from '../../../src/pipeline/transform-schemas.js';
import { consume, pass, type Transform } from '../../../src/pipeline/transform.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
// The shipped transforms, as the gateway loads them when its config has any (src/pipeline/load-chain.ts).
import '../../../src/pipeline/transforms/index.js';
import { conservationGap } from '../../../src/buffer/conservation.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import { CrashableStore } from '../../helpers/crashable-store.js';
import type { PendingReading } from '../../../src/buffer/types.js';

// A transform defined here, in one place, with its schema slice: the two registration calls (its schema for
// the config, its factory for the gateway) are all it takes.
// It folds every `every`-th reading of a device into a count and emits that count as an alarm.
const countEverySchema = z.strictObject({ every: z.number().int().min(2) });
class CountEvery implements Transform {
  private readonly seen = new Map<string, number>();
  constructor(
    readonly id: string,
    private readonly every: number,
  ) {}
  process(reading: PendingReading) {
    const n = (this.seen.get(reading.deviceId) ?? 0) + 1;
    this.seen.set(reading.deviceId, n);
    if (n % this.every !== 0) return pass(reading);
    return consume([{ kind: 'alarm' as const, lane: 'alarm' as const, reading: { deviceId: reading.deviceId, topic: reading.topic, receivedAt: reading.receivedAt, values: { count: n } } }]);
  }
}
registerTransformSchema({ type: 'test_count_every', schema: countEverySchema });
registerTransform<z.infer<typeof countEverySchema>>({ type: 'test_count_every', create: (c, id) => new CountEvery(id, c.every) });

const baseDoc = { gatewayId: 'gw', dataDir: '/tmp/unused', kinesis: { endpoint: 'local' } };
const ctx = () => ({ clock: new ManualClock(), logger: pino({ level: 'silent' }), metrics: new Metrics() });

describe('transform registry', () => {
  it('validates a registered type against its own slice, and names unknown types', () => {
    expect(validateConfig({ ...baseDoc }, 'test').transforms).toEqual([]);
    expect(validateConfig({ ...baseDoc, transforms: [{ type: 'test_count_every', every: 3 }] }, 'test').transforms).toEqual([{ type: 'test_count_every', every: 3 }]);
    expect(() => validateConfig({ ...baseDoc, transforms: [{ type: 'test_count_every', every: 1 }] }, 'test')).toThrow(/every/);
    expect(() => validateConfig({ ...baseDoc, transforms: [{ type: 'test_count_every', every: 3, extra: true }] }, 'test')).toThrow(/extra/);
    expect(() => validateConfig({ ...baseDoc, transforms: [{ type: 'no_such' }] }, 'test')).toThrow(/unknown transform type "no_such".*drop_fields/);
  });

  it('has a factory for every type the config accepts, and a schema for every type it can build', () => {
    expect(transformTypes()).toEqual(transformSchemaTypes());
    expect(transformTypes()).toEqual(expect.arrayContaining(['compute', 'deadband', 'detect', 'drop_fields', 'enrich', 'filter', 'window']));
  });

  it('hands a factory its entry with the schema\'s defaults filled in', () => {
    const config = validateConfig({ ...baseDoc, transforms: [{ type: 'window', kind: 'tumbling', sizeMs: 1_000, fields: ['t'] }] }, 'test');
    expect(config.transforms[0]).toMatchObject({ type: 'window', allowedLatenessMs: 5_000, aggregates: ['count', 'mean', 'min', 'max'], groupBy: ['deviceId'] });
  });

  it('refuses to register a type twice', () => {
    expect(() => registerTransform({ type: 'drop_fields', create: () => new CountEvery('x', 2) })).toThrow(/twice/);
    expect(() => registerTransformSchema({ type: 'drop_fields', schema: z.object({}) })).toThrow(/twice/);
  });

  it('runs a registered transform from config through admission, and the ledger balances with consumed and produced', async () => {
    const config = validateConfig({ ...baseDoc, transforms: [{ type: 'test_count_every', every: 2 }, { type: 'drop_fields', fields: ['debug'] }] }, 'test');
    const store = new CrashableStore();
    const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, store.asBufferStore());
    await buffer.open();
    const metrics = new Metrics();
    const chain = TransformChain.fromConfig(config.transforms, ctx());
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/telemetry'), maxPayloadBytes: 1024 }, metrics, pino({ level: 'silent' }), undefined, chain);
    const raw = (i: number, payload: object) => ({ source: 'mqtt', topic: 'devices/d1/telemetry', payload: Buffer.from(JSON.stringify(payload)), origin: 'c', receivedAt: 1_000 + i });
    const outcome = await admission.admitBatch([raw(0, { t: 1, debug: 'x' }), raw(1, { t: 2 }), raw(2, { debug: 'only' }), raw(3, 'garbage' as unknown as object), raw(4, { t: 5 })]);
    // d1: #1 passes, #2 consumed (alarm count=2), #3 passes but loses its only field, #4 is consumed (alarm count=4)
    expect(outcome).toEqual({ accepted: 3, filtered: 1, consumed: 2, produced: 2, rejected: 1, dropped: 0 });
    const stats = buffer.stats();
    expect(stats).toMatchObject({ received: 5, buffered: 3, filtered: 1, consumed: 2, produced: 2, deadLettered: { not_an_object: 1 } });
    expect(conservationGap(stats)).toBe(0);
    const alarms = await buffer.read('alarm', 0, 10);
    expect(alarms.map((r) => JSON.parse(r.data.toString()).values)).toEqual([{ count: 2 }, { count: 4 }]);
    const telemetry = await buffer.read('telemetry', 0, 10);
    expect(telemetry.map((r) => JSON.parse(r.data.toString()).values)).toEqual([{ t: 1 }]);
    expect(metrics.get('readings_filtered_total', { reason: 'drop_fields#1:no_values_left' })).toBe(1);
    await buffer.close();
  });

  it('counts a batch the chain filters entirely, with nothing left to store', async () => {
    const store = new CrashableStore();
    const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, store.asBufferStore());
    await buffer.open();
    const chain = TransformChain.fromConfig([{ type: 'drop_fields', fields: ['a'] }], ctx());
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/telemetry'), maxPayloadBytes: 1024 }, new Metrics(), pino({ level: 'silent' }), undefined, chain);
    expect(await admission.admitReadings('serial:x', [{ deviceId: 'd', topic: 't', receivedAt: 1, values: { a: 1 } }])).toBe('stored');
    // Only what was committed survives: reopen the buffer on what the crashed store kept.
    const survivor = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }, (await store.crash()).asBufferStore());
    await survivor.open();
    const durable = survivor.stats();
    expect(durable).toMatchObject({ received: 1, filtered: 1, buffered: 0 });
    expect(conservationGap(durable)).toBe(0);
  });
});
