import { describe, expect, it } from 'vitest';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import { PowerCutStore } from '../helpers/power-cut-store.js';
import { GATEWAY_ID, reading, SINK_ID } from './durable-buffer.contract.js';

async function survivorsOfPowerCut(durability: 'fsync' | 'os'): Promise<{ acked: number; survived: number }> {
  const store = new PowerCutStore();
  const q = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], durability }, store.asBufferStore());
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

  /** Ten readings appended (synced) and the first five delivered, then the buffer as a power cut leaves it. */
  async function deliverFiveThenCut(closeFirst: boolean) {
    const store = new PowerCutStore();
    const q = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], durability: 'fsync' }, store.asBufferStore());
    await q.open();
    for (let i = 1; i <= 10; i++) await q.append([reading(i)]);
    const records = await q.read('telemetry', 0, 100);
    // The first delivery after a synced append is within DELIVERY_SYNC_MS of it: written without a sync.
    await q.commitCursor(SINK_ID, 'telemetry', records[4]!.seq, { delivered: records.slice(0, 5), deadLettered: [] });
    expect(q.stats()).toMatchObject({ delivered: 5, buffered: 5 });
    if (closeFirst) await q.close();
    const after = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], durability: 'fsync' }, await store.powerCut());
    await after.open();
    return { records, after };
  }

  it('loses no reading when a delivery written without a sync is cut: its records come back, to be sent again', async () => {
    const { after } = await deliverFiveThenCut(false);
    // At least once: all ten are there again, the ledger as before the delivery, and it balances.
    expect((await after.read('telemetry', after.cursor(SINK_ID, 'telemetry'), 1_000)).length).toBe(10);
    expect(after.stats()).toMatchObject({ received: 10, delivered: 0, buffered: 10 });
    await after.close();
  });

  it('makes unsynced deliveries durable when the buffer closes', async () => {
    const { records, after } = await deliverFiveThenCut(true);
    expect(after.stats()).toMatchObject({ received: 10, delivered: 5, buffered: 5 });
    expect((await after.read('telemetry', after.cursor(SINK_ID, 'telemetry'), 1_000)).map((r) => r.seq)).toEqual(records.slice(5).map((r) => r.seq));
    await after.close();
  });
});
