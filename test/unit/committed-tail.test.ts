import { describe, expect, it } from 'vitest';
import { CommittedTail } from '../../src/buffer/committed-tail.js';
import type { StoredRecord } from '../../src/buffer/types.js';

const record = (seq: number, bytes = 10): StoredRecord => ({ lane: 'telemetry', seq, partitionKey: 'd', data: Buffer.from(String(seq)), bytes });
const seqs = (records: StoredRecord[] | null): number[] | null => records && records.map((r) => r.seq);

describe('CommittedTail', () => {
  it('reads nothing from memory before it knows where the store ends', () => {
    const tail = new CommittedTail();
    expect(tail.read('telemetry', 0, 10, 10)).toBeNull();
  });

  it('serves reads after its floor, bounded by upTo and max, skipping gaps in the sequence', () => {
    const tail = new CommittedTail();
    tail.reset(4);
    tail.add('telemetry', [record(5), record(6), record(8), record(9)]);
    expect(seqs(tail.read('telemetry', 4, 100, 100))).toEqual([5, 6, 8, 9]);
    expect(seqs(tail.read('telemetry', 6, 100, 100))).toEqual([8, 9]);
    expect(seqs(tail.read('telemetry', 7, 8, 100))).toEqual([8]);
    expect(seqs(tail.read('telemetry', 4, 100, 2))).toEqual([5, 6]);
    expect(seqs(tail.read('telemetry', 9, 100, 100))).toEqual([]);
    // Below the floor, only the store knows.
    expect(tail.read('telemetry', 3, 100, 100)).toBeNull();
  });

  it('keeps lanes apart', () => {
    const tail = new CommittedTail();
    tail.reset(0);
    tail.add('telemetry', [record(1), record(3)]);
    tail.add('alarm', [{ ...record(2), lane: 'alarm' }]);
    expect(seqs(tail.read('telemetry', 0, 10, 10))).toEqual([1, 3]);
    expect(seqs(tail.read('alarm', 0, 10, 10))).toEqual([2]);
  });

  it('forgets a deleted record, in the middle or at the front', () => {
    const tail = new CommittedTail();
    tail.reset(0);
    tail.add('telemetry', [record(1), record(2), record(3), record(4)]);
    tail.remove('telemetry', 3);
    tail.remove('telemetry', 1);
    tail.remove('telemetry', 99);
    expect(seqs(tail.read('telemetry', 0, 10, 10))).toEqual([2, 4]);
    expect(tail.size).toBe(2);
    // A read from before a deleted front record still comes from memory: the store lacks it too.
    tail.remove('telemetry', 2);
    expect(seqs(tail.read('telemetry', 0, 10, 10))).toEqual([4]);
  });

  it('lets the oldest go past its bounds, and sends reads from before them to the store', () => {
    const tail = new CommittedTail({ maxRecords: 3, maxBytes: 1_000 });
    tail.reset(0);
    // A reader has read up to 2: the batch is within its reach.
    tail.noteRead('telemetry', 2);
    tail.add('telemetry', [record(1), record(2), record(3), record(4), record(5)]);
    expect(tail.size).toBe(3);
    expect(tail.read('telemetry', 0, 10, 10)).toBeNull();
    expect(tail.read('telemetry', 1, 10, 10)).toBeNull();
    expect(seqs(tail.read('telemetry', 2, 10, 10))).toEqual([3, 4, 5]);
    const bytes = new CommittedTail({ maxRecords: 100, maxBytes: 25 });
    bytes.reset(0);
    bytes.add('telemetry', [record(1), record(2), record(3)]);
    expect(seqs(bytes.read('telemetry', 1, 10, 10))).toEqual([2, 3]);
    expect(bytes.read('telemetry', 0, 10, 10)).toBeNull();
  });

  it('keeps nothing while no reader is within its length of the head, and keeps again once one is', () => {
    const tail = new CommittedTail({ maxRecords: 10, maxBytes: 1_000 });
    tail.reset(0);
    const batch = (from: number, to: number): StoredRecord[] => Array.from({ length: to - from + 1 }, (_, i) => record(from + i));
    tail.noteRead('telemetry', 0);
    tail.add('telemetry', batch(1, 8));
    expect(seqs(tail.read('telemetry', 0, 100, 100))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The reader stays at 0 while records come in: at 11 the head is more than the tail's length ahead.
    tail.add('telemetry', batch(9, 11));
    expect(tail.size).toBe(0);
    expect(tail.read('telemetry', 0, 100, 100)).toBeNull();
    expect(tail.read('telemetry', 10, 100, 100)).toBeNull();
    tail.add('telemetry', batch(12, 20));
    expect(tail.size).toBe(0);
    expect(tail.read('telemetry', 19, 100, 100)).toBeNull();
    // The reader catches up (from the store) to 15: what comes from now on is within its reach.
    tail.noteRead('telemetry', 15);
    tail.add('telemetry', batch(21, 25));
    expect(seqs(tail.read('telemetry', 20, 100, 100))).toEqual([21, 22, 23, 24, 25]);
    // Nothing skipped is served from memory: below the floor, only the store knows.
    expect(tail.read('telemetry', 15, 100, 100)).toBeNull();
    // The reader reads them; a slower reader's position (the backlog's) does not take the reach back.
    tail.noteRead('telemetry', 25);
    tail.noteRead('telemetry', 3);
    tail.add('telemetry', batch(26, 30));
    expect(seqs(tail.read('telemetry', 20, 100, 100))).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  });

  it('after a reset, holds nothing up to the sequence given, even if an older batch lands later', () => {
    const tail = new CommittedTail();
    tail.reset(0);
    tail.add('telemetry', [record(1)]);
    // A write failed or timed out while sequences up to 7 were handed out.
    tail.reset(7);
    tail.add('telemetry', [record(5), record(6)]);
    tail.add('telemetry', [record(8)]);
    expect(tail.read('telemetry', 0, 10, 10)).toBeNull();
    expect(tail.read('telemetry', 6, 10, 10)).toBeNull();
    expect(seqs(tail.read('telemetry', 7, 10, 10))).toEqual([8]);
  });

  it('stays exact over long runs of adds and deletes (compaction)', () => {
    const tail = new CommittedTail({ maxRecords: 5_000, maxBytes: 1e9 });
    tail.reset(0);
    let next = 1;
    const live: number[] = [];
    for (let round = 0; round < 50; round++) {
      const batch = Array.from({ length: 100 }, () => record(next++));
      tail.add('telemetry', batch);
      live.push(...batch.map((r) => r.seq));
      // Deliver the oldest 90 and one from the middle.
      for (const seq of live.splice(0, 90)) tail.remove('telemetry', seq);
      const middle = live.splice(Math.floor(live.length / 2), 1)[0]!;
      tail.remove('telemetry', middle);
    }
    expect(seqs(tail.read('telemetry', 0, Infinity, Infinity))).toEqual(live);
    expect(tail.size).toBe(live.length);
  });
});
