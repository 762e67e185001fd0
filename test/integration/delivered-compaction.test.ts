import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelBuffer, type LevelBufferOptions } from '../../src/buffer/level-buffer.js';
import type { Reading } from '../../src/normalize/reading.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const RECORDS = 6_000;
const CHUNK = 500;

// Random hex does not compress much, so the backlog's table files are about as large as its records.
const reading = (seq: number): Reading => ({ deviceId: 'd', topic: 'devices/d/t', seq, receivedAt: 1_700_000_000_000 + seq, values: { v: seq, blob: randomBytes(400).toString('hex') } });

async function tableBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.ldb')) total += (await stat(path.join(dir, name))).size;
  return total;
}

const open = (dir: string, compaction: LevelBufferOptions['compaction']): LevelBuffer =>
  new LevelBuffer({ dir, gatewayId: 'gw', durability: 'os', commitIntervalMs: 1, maxCommitRecords: 1_000, sinkIds: ['kinesis'], compaction });

/**
 * Writes a backlog, reopens the store so it sits in table files (as after a restart or an outage), delivers
 * it all the way the sink does, and returns the table bytes on disk before and after.
 */
async function drainBacklog(dir: string, compaction: LevelBufferOptions['compaction']): Promise<{ before: number; after: number }> {
  const writer = open(dir, compaction);
  await writer.open();
  for (let seq = 1; seq <= RECORDS; seq += CHUNK) await writer.append(Array.from({ length: CHUNK }, (_, i) => reading(seq + i)));
  await writer.close();
  const before = await tableBytes(dir);
  const q = open(dir, compaction);
  await q.open();
  for (let cursor = 0; cursor < RECORDS; ) {
    const records = await q.read('telemetry', cursor, CHUNK);
    cursor = records.at(-1)!.seq;
    await q.commitCursor('kinesis', 'telemetry', cursor, { delivered: records, deadLettered: [] });
  }
  expect(q.stats()).toMatchObject({ buffered: 0, delivered: RECORDS });
  // close() waits only for the compaction running: on a busy machine most of the drain can be delivered
  // while one runs, and that stretch would be left for the next start.
  await q.deliveredCompactionIdle();
  await q.close();
  return { before, after: await tableBytes(dir) };
}

describe('compaction of delivered records (issue 15: a drained backlog leaves no table files behind)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('deletes the table files of a delivered backlog, which LevelDB alone keeps', async () => {
    const compacted = await makeTempDir();
    const left = await makeTempDir();
    cleanups.push(compacted.cleanup, left.cleanup);
    const small = { everyBytes: 256 * 1024, minTableBytes: 128 * 1024 };
    const withCompaction = await drainBacklog(compacted.dir, small);
    const without = await drainBacklog(left.dir, false);
    // About 5 MiB of records went into tables both times.
    expect(withCompaction.before).toBeGreaterThan(2 * 1024 * 1024);
    expect(without.before).toBeGreaterThan(2 * 1024 * 1024);
    // Left to itself, LevelDB keeps the delivered backlog's files: the tombstones wait in the memtable.
    expect(without.after).toBeGreaterThan(without.before / 2);
    // Compacted as it goes, at most the last stretch below the threshold is left.
    expect(withCompaction.after).toBeLessThan(withCompaction.before / 4);
  });
});
