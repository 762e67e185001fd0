import { z } from 'zod';
import { DEFAULT_DATA_DIR } from '../config/config-paths.js';
import { positiveInt } from '../config/primitives.js';
import { DEFAULT_BUFFER_MAX_BYTES, DEFAULT_MAX_COMMIT_RECORDS, DEFAULT_WHEN_FULL, MIN_BUFFER_MAX_BYTES, WHEN_FULL_MODES } from './defaults.js';

/** The `buffer` and `dataDir` slices: the durable LevelDB buffer (see docs/concepts/buffer.md). */

export const dataDirSchema = z
  .string()
  .min(1)
  .default(DEFAULT_DATA_DIR)
  .describe('Directory of the LevelDB buffer (created 0700), relative to the directory tidegate runs in. One gateway per directory: a second one exits at once. Override: TIDEGATE_DATA_DIR.');

export const bufferSchema = z
  .object({
    durability: z
      .enum(['fsync', 'os'])
      .default('fsync')
      .describe('`fsync`: every group commit is synced to disk before its readings are acknowledged. `os`: no fsync; survives a process crash, but a power cut can lose acknowledged readings.'),
    commitIntervalMs: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(10)
      .describe('Minimum milliseconds between two group commits; readings arriving meanwhile share one write and one fsync (longer: fewer fsyncs, which spares SD cards, and later acks).'),
    maxCommitRecords: positiveInt.max(100_000).default(DEFAULT_MAX_COMMIT_RECORDS).describe('A group commit this large (in readings) is written at once.'),
    commitTimeoutMs: positiveInt
      .max(600_000)
      .default(30_000)
      .describe('A commit slower than this many milliseconds (a stalled disk) is given up: its readings are not acknowledged, and devices retransmit.'),
    maxBytes: positiveInt
      .min(MIN_BUFFER_MAX_BYTES)
      .default(DEFAULT_BUFFER_MAX_BYTES)
      .describe('Budget for buffered readings, in bytes as stored (key plus value, ~330 B for a 200 B reading): 2 GiB holds about a week of 10 readings/s without uplink.'),
    whenFull: z
      .enum(WHEN_FULL_MODES)
      .default(DEFAULT_WHEN_FULL)
      .describe(
        'When the budget is reached: `block` stops acknowledging until deliveries free space (devices keep their readings); `drop_oldest` / `drop_newest` drop readings, counted in dropped{reason} and logged. Alarms are dropped last.',
      ),
    maxAgeMs: positiveInt.optional().describe('Readings older than this many milliseconds are dropped and counted as `expired`; unset keeps them until delivered or the budget needs room.'),
  })
  .strict()
  .describe('The durable buffer between admission and the sinks: group commit, budget and what happens when it is full.');

export type BufferConfig = z.infer<typeof bufferSchema>;
