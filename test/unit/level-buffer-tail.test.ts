import { describe, expect, it } from 'vitest';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import { holdableStore } from '../helpers/holdable-store.js';
import type { PendingReading } from '../../src/buffer/types.js';

const reading = (i: number): PendingReading => ({ deviceId: `d${i}`, topic: `devices/d${i}/t`, receivedAt: 1_700_000_000_000 + i, values: { i } });
const tagOf = (data: Buffer): number => (JSON.parse(data.toString('utf8')) as { values: { i: number } }).values.i;

describe('LevelBuffer: the records it keeps in memory', () => {
  it('a write that timed out but landed later is still read (from the store), not skipped', async () => {
    const { store, hold } = holdableStore();
    const q = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], commitTimeoutMs: 100 }, store);
    await q.open();
    try {
      await q.append([reading(1)]);
      const release = hold();
      // The commit does not come back in time: the append fails (not acknowledged), yet the write lands.
      await expect(q.append([reading(2)])).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
      release();
      await q.append([reading(3)]);
      const records = await q.read('telemetry', 0, 100);
      expect(records.map((r) => tagOf(r.data))).toEqual([1, 2, 3]);
      // What memory returns is what the store holds, byte for byte.
      const reopened = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'] }, store);
      await q.close();
      await reopened.open();
      const fromStore = await reopened.read('telemetry', 0, 100);
      expect(fromStore.map((r) => ({ ...r, data: r.data.toString('utf8') }))).toEqual(records.map((r) => ({ ...r, data: r.data.toString('utf8') })));
      await reopened.close();
    } finally {
      await q.close().catch(() => undefined);
    }
  });
});
