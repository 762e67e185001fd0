import { describe, expect, it } from 'vitest';
import { createMemoryBuffer } from '../../src/queue/memory-buffer.js';
import { PowerCutStore } from '../helpers/power-cut-store.js';
import { GATEWAY_ID, reading, SINK_ID } from './durable-queue.contract.js';

async function survivorsOfPowerCut(durability: 'fsync' | 'os'): Promise<{ acked: number; survived: number }> {
  const store = new PowerCutStore();
  const q = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], durability }, store.asQueueStore());
  await q.open();
  let acked = 0;
  for (let i = 1; i <= 20; i++) if ((await q.append([reading(i)])) === 'stored') acked++;
  const after = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], durability }, await store.powerCut());
  await after.open();
  const survived = (await after.read('telemetry', 0, 1_000)).length;
  await after.close();
  return { acked, survived };
}

describe('durability: fsync against a power cut', () => {
  it('keeps every reading whose append resolved', async () => {
    const { acked, survived } = await survivorsOfPowerCut('fsync');
    expect(acked).toBe(20);
    expect(survived).toBe(acked);
  });

  it('detects the loss when writes are not synced (durability: os), so the check above can fail', async () => {
    const { acked, survived } = await survivorsOfPowerCut('os');
    expect(acked).toBe(20);
    expect(survived).toBeLessThan(acked);
  });
});
