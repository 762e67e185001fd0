import { MemoryLevel } from 'memory-level';
import { LevelBuffer, type LevelBufferOptions } from './level-buffer.js';
import type { BufferStore } from './open-store.js';

export type MemoryBufferOptions = Omit<LevelBufferOptions, 'dir' | 'makeStore' | 'durability' | 'commitIntervalMs' | 'maxCommitRecords'> &
  Partial<Pick<LevelBufferOptions, 'durability' | 'commitIntervalMs' | 'maxCommitRecords'>>;

/**
 * The buffer with its rules unchanged (LevelBuffer) on an in-memory store, for tests and tools that need no
 * disk. The store outlives the buffer, so `reopen` on the same store sees only what was committed.
 */
export function createMemoryBuffer(opts: MemoryBufferOptions, store: BufferStore = new MemoryLevel<string, string>({ valueEncoding: 'utf8' }) as unknown as BufferStore): LevelBuffer {
  return new LevelBuffer({ durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1_000, ...opts, dir: ':memory:', makeStore: () => store });
}
