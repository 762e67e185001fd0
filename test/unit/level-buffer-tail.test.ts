import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import type { BufferStore } from '../../src/buffer/open-store.js';
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

  it('serves from memory what readers keep up with, on either lane, and from the store what they fell behind on', async () => {
    const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' });
    // Counts the reads that went to the store, per lane prefix.
    const storeReads = { alarm: 0, telemetry: 0 };
    const iterator = store.iterator.bind(store) as (opts?: { gt?: string }) => unknown;
    (store as unknown as { iterator: (opts?: { gt?: string }) => unknown }).iterator = (opts) => {
      if (opts?.gt?.startsWith('r!a!')) storeReads.alarm += 1;
      if (opts?.gt?.startsWith('r!t!')) storeReads.telemetry += 1;
      return iterator(opts);
    };
    const q = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], tailLimits: { maxRecords: 10, maxBytes: 1024 * 1024 } }, store as unknown as BufferStore);
    await q.open();
    // What opening reads (the ledger, the pruner's first look) is not what this test is about.
    storeReads.alarm = 0;
    storeReads.telemetry = 0;
    try {
      let telemetryAt = 0;
      let alarmAt = 0;
      let n = 0;
      // Telemetry readers keep up (reading after each append), and no alarm comes for 150 sequences.
      for (let round = 0; round < 30; round++) {
        await q.append([reading(n++), reading(n++), reading(n++), reading(n++), reading(n++)]);
        const got = await q.read('telemetry', telemetryAt, 100);
        telemetryAt = got[got.length - 1]!.seq;
        expect(await q.read('alarm', alarmAt, 100)).toEqual([]);
      }
      await q.append([{ ...reading(n++), lane: 'alarm' }]);
      const alarms = await q.read('alarm', alarmAt, 100);
      expect(alarms.map((r) => tagOf(r.data))).toEqual([n - 1]);
      alarmAt = alarms[0]!.seq;
      expect(storeReads).toEqual({ alarm: 0, telemetry: 0 });
      // Now the telemetry reader falls behind by more than the tail holds: what comes meanwhile it reads from
      // the store, all of it and in order.
      const from = n;
      for (let round = 0; round < 5; round++) await q.append([reading(n++), reading(n++), reading(n++), reading(n++), reading(n++)]);
      const behind = await q.read('telemetry', telemetryAt, 100);
      expect(behind.map((r) => tagOf(r.data))).toEqual(Array.from({ length: 25 }, (_, i) => from + i));
      expect(storeReads.telemetry).toBe(1);
    } finally {
      await q.close();
    }
  });
});
