import { MemoryLevel } from 'memory-level';
import { LevelQueue, type LevelQueueOptions } from './level-queue.js';
import type { QueueStore } from './open-store.js';

export type MemoryBufferOptions = Omit<LevelQueueOptions, 'dir' | 'makeStore' | 'durability' | 'commitIntervalMs' | 'maxCommitRecords'> &
  Partial<Pick<LevelQueueOptions, 'durability' | 'commitIntervalMs' | 'maxCommitRecords'>>;

/**
 * The buffer with its rules unchanged (LevelQueue) on an in-memory store, for tests and tools that need no
 * disk. The store outlives the queue, so `reopen` on the same store sees only what was committed.
 */
export function createMemoryBuffer(opts: MemoryBufferOptions, store: QueueStore = new MemoryLevel<string, string>({ valueEncoding: 'utf8' }) as unknown as QueueStore): LevelQueue {
  return new LevelQueue({ durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, ...opts, dir: ':memory:', makeStore: () => store });
}
