import { MemoryLevel } from 'memory-level';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { AlarmService } from '../../../src/analytics/alarms/alarm-service.js';
import { DetectTransform } from '../../../src/analytics/alarms/detect-transform.js';
import { detectSchema } from '../../../src/analytics/alarms/schema.js';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import { conservationGap } from '../../../src/buffer/conservation.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import type { BufferStore } from '../../../src/buffer/open-store.js';

const silent = pino({ level: 'silent' });
const decode = { matchTopic: () => null, maxPayloadBytes: 1_024 } as never;
const config = detectSchema.parse({ rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 80, clear: 75 } });

/** A gateway's admission over a memory store that outlives it, as a restart would find the disk. */
async function boot(store: BufferStore, clock: ManualClock) {
  const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], logger: silent }, store);
  await buffer.open();
  const ctx = { clock, logger: silent, metrics: new Metrics() };
  const detect = new DetectTransform('detect#0', config);
  const chain = new TransformChain([detect], ctx);
  const admission = new Admission(buffer, decode, ctx.metrics, silent, undefined, chain);
  await admission.restoreTransformState();
  return { buffer, admission, service: new AlarmService(chain.transforms, admission, ctx) };
}

describe('operator commands through admission', () => {
  it('an acknowledgement and a shelf are committed with their records and survive a restart', async () => {
    const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' }) as unknown as BufferStore;
    const clock = new ManualClock(1_000_000);
    const first = await boot(store, clock);
    await first.admission.admitReadings('test', [{ deviceId: 'a', topic: 't', receivedAt: clock.now(), values: { t: 90 } }, { deviceId: 'b', topic: 't', receivedAt: clock.now(), values: { t: 60 } }]);
    await first.service.acknowledge('hot', 'a');
    await first.service.shelve('hot', 'b', clock.now() + 60_000);
    await expect(first.service.acknowledge('hot', 'b')).rejects.toThrow(/inactive: there is nothing to acknowledge/);
    await expect(first.service.shelve('hot', 'nobody', clock.now() + 1)).rejects.toThrow(/tracks no series "nobody"/);
    const alarms = (await first.buffer.read('alarm', 0, 10)).map((r) => JSON.parse(r.data.toString()) as { result: { transition: string } });
    expect(alarms.map((a) => a.result.transition)).toEqual(['raised', 'acknowledged', 'shelved']);
    expect(conservationGap(first.buffer.stats())).toBe(0);
    await first.buffer.close();

    const second = await boot(store, clock);
    expect((await second.service.list()).map((a) => [a.deviceId, a.state, a.shelvedUntil])).toEqual([
      ['a', 'active-acknowledged', null],
      ['b', 'inactive', clock.now() + 60_000],
    ]);
    // Shelved: b's breach does not raise until the shelf ends.
    await second.admission.admitReadings('test', [{ deviceId: 'b', topic: 't', receivedAt: clock.now(), values: { t: 95 } }]);
    expect((await second.service.list()).find((a) => a.deviceId === 'b')!.state).toBe('pending');
    clock.advance(60_000);
    await second.admission.onTime(clock.now());
    expect((await second.service.list()).find((a) => a.deviceId === 'b')!.state).toBe('active');
    await second.buffer.close();
  });
});
