import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CommittedTailLimits } from '../../src/buffer/committed-tail.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { describeDurableBuffer, GATEWAY_ID, reopenable, SINK_ID, type BufferOptions, type BufferUnderTest } from './durable-buffer.contract.js';

function onLevelDb(opts: BufferOptions, tailLimits?: CommittedTailLimits): Promise<BufferUnderTest> {
  return (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-contract-'));
    const make = async (): Promise<LevelBuffer> => {
      const q = new LevelBuffer({ dir, gatewayId: GATEWAY_ID, durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, sinkIds: [SINK_ID], ...(tailLimits ? { tailLimits } : {}), ...opts });
      await q.open();
      return q;
    };
    return reopenable(make, () => rm(dir, { recursive: true, force: true }));
  })();
}

describeDurableBuffer('LevelBuffer on a real LevelDB', (opts) => onLevelDb(opts));
// The just-committed records are read from memory; these two make every read mix memory and store, or use
// the store alone, so both paths keep the contract.
describeDurableBuffer('LevelBuffer on a real LevelDB, 3 records kept in memory', (opts) => onLevelDb(opts, { maxRecords: 3, maxBytes: 1024 * 1024 }));
describeDurableBuffer('LevelBuffer on a real LevelDB, nothing kept in memory', (opts) => onLevelDb(opts, { maxRecords: 0, maxBytes: 0 }));
