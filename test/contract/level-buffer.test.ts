import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { describeDurableBuffer, GATEWAY_ID, reopenable, SINK_ID, type BufferOptions, type BufferUnderTest } from './durable-buffer.contract.js';

describeDurableBuffer('LevelBuffer on a real LevelDB', async (opts: BufferOptions): Promise<BufferUnderTest> => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-contract-'));
  const make = async (): Promise<LevelBuffer> => {
    const q = new LevelBuffer({ dir, gatewayId: GATEWAY_ID, durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, sinkIds: [SINK_ID], ...opts });
    await q.open();
    return q;
  };
  return reopenable(make, () => rm(dir, { recursive: true, force: true }));
});
