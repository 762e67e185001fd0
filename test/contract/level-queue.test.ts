import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelQueue } from '../../src/queue/level-queue.js';
import { describeDurableQueue, GATEWAY_ID, SINK_ID, type QueueOptions, type QueueUnderTest } from './durable-queue.contract.js';

describeDurableQueue('LevelQueue on a real LevelDB', async (opts: QueueOptions): Promise<QueueUnderTest> => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-contract-'));
  const make = async (): Promise<LevelQueue> => {
    const q = new LevelQueue({ dir, gatewayId: GATEWAY_ID, durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, sinkIds: [SINK_ID], ...opts });
    await q.open();
    return q;
  };
  let current = await make();
  const h: QueueUnderTest = {
    queue: current,
    async reopen() {
      await current.close();
      current = await make();
      h.queue = current;
      return current;
    },
    async dispose() {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
});
