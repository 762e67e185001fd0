import { describe, expect, it } from 'vitest';
import { entrySize } from '../../src/sinks/kinesis/batcher.js';
import { planCall } from '../../src/sinks/kinesis/plan-call.js';
import {
  KINESIS_MAX_BYTES_PER_CALL,
  KINESIS_MAX_RECORD_BYTES,
  KINESIS_MAX_RECORDS_PER_CALL,
  type BatchLimits,
} from '../../src/sinks/kinesis/limits.js';
import type { StoredRecord } from '../../src/buffer/types.js';

const LIMITS: BatchLimits = {
  maxRecords: KINESIS_MAX_RECORDS_PER_CALL,
  maxBytes: KINESIS_MAX_BYTES_PER_CALL,
  maxRecordBytes: KINESIS_MAX_RECORD_BYTES,
};
const MIB = 1024 * 1024;

/** A record whose data plus partition key take exactly `size` bytes. */
function sized(seq: number, size: number, partitionKey = `device-${seq}`): StoredRecord {
  const data = Buffer.alloc(size - Buffer.byteLength(partitionKey, 'utf8'), 0x61);
  return { lane: 'telemetry', seq, partitionKey, data, bytes: data.length };
}

function small(count: number, firstSeq = 1): StoredRecord[] {
  return Array.from({ length: count }, (_, i): StoredRecord => ({ lane: 'telemetry', seq: firstSeq + i, partitionKey: 'd', data: Buffer.from(`{"v":${i}}`), bytes: 10 }));
}

const seqs = (records: StoredRecord[]): number[] => records.map((r) => r.seq);

/** One call planned without aggregation or pacing: the records it takes, and those it can never send. */
function planBatch(records: Iterable<StoredRecord>, limits: BatchLimits): { batch: StoredRecord[]; tooLarge: StoredRecord[] } {
  const plan = planCall(
    [...records].map((record) => ({ record, done: false, sending: false, removed: false, deadLettered: false })),
    limits,
    { mode: 'none' },
    null,
  );
  return { batch: plan.entries.map((e) => e.members[0]!.record), tooLarge: plan.tooLarge.map((p) => p.record) };
}

describe('the limits are the documented Kinesis PutRecords quotas', () => {
  it('500 records, 5 MiB per call, 1 MiB per record', () => {
    expect(LIMITS).toEqual({ maxRecords: 500, maxBytes: 5 * MIB, maxRecordBytes: MIB });
  });
});

describe('entrySize', () => {
  it('counts data plus the partition key in UTF-8 bytes', () => {
    expect(entrySize({ lane: 'telemetry' as const, bytes: 0, seq: 1, partitionKey: 'abc', data: Buffer.alloc(10) })).toBe(13);
    // 'é' is 2 bytes, '🌊' is 4 bytes (and 2 UTF-16 code units).
    expect(entrySize({ lane: 'telemetry' as const, bytes: 0, seq: 1, partitionKey: 'é🌊', data: Buffer.alloc(10) })).toBe(16);
  });
});

describe('planBatch: record count', () => {
  it('takes all of exactly 500 records', () => {
    const plan = planBatch(small(500), LIMITS);
    expect(plan.batch).toHaveLength(500);
    expect(plan.tooLarge).toEqual([]);
  });

  it('leaves the 501st record for the next call', () => {
    const records = small(501);
    const first = planBatch(records, LIMITS);
    expect(seqs(first.batch)).toEqual(seqs(records.slice(0, 500)));
    expect(first.tooLarge).toEqual([]);

    const second = planBatch(records.slice(first.batch.length), LIMITS);
    expect(seqs(second.batch)).toEqual([501]);
  });

  it('returns an empty plan for no candidates', () => {
    expect(planBatch([], LIMITS)).toEqual({ batch: [], tooLarge: [] });
  });
});

describe('planBatch: bytes per call', () => {
  // Four 1 MiB records, one of 1 MiB - 1 and a last one of 1 byte: exactly 5 MiB, keys included.
  const exactly5MiB = (): StoredRecord[] => [sized(1, MIB), sized(2, MIB), sized(3, MIB), sized(4, MIB), sized(5, MIB - 1), { lane: 'telemetry' as const, bytes: 0, seq: 6, partitionKey: 'x', data: Buffer.alloc(0) }];

  it('takes a batch of exactly 5 MiB counting data plus partition keys', () => {
    const records = exactly5MiB();
    expect(records.reduce((n, r) => n + entrySize(r), 0)).toBe(5 * MIB);
    const plan = planBatch(records, LIMITS);
    expect(seqs(plan.batch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(plan.tooLarge).toEqual([]);
  });

  it('leaves the last record for the next call when the batch would be one byte over 5 MiB', () => {
    const records = exactly5MiB();
    records[5] = { lane: 'telemetry' as const, bytes: 0, seq: 6, partitionKey: 'xy', data: Buffer.alloc(0) };
    expect(records.reduce((n, r) => n + entrySize(r), 0)).toBe(5 * MIB + 1);
    const plan = planBatch(records, LIMITS);
    expect(seqs(plan.batch)).toEqual([1, 2, 3, 4, 5]);
    expect(plan.tooLarge).toEqual([]);
  });

  it('counts the partition key: data alone fits, data plus key does not', () => {
    const records = exactly5MiB();
    // The same data under a key one byte longer: the call would be 5 MiB + 1 with the key counted.
    records[4] = { lane: 'telemetry' as const, bytes: 0, seq: 5, partitionKey: 'device-5!', data: records[4]!.data };
    const plan = planBatch(records, LIMITS);
    expect(seqs(plan.batch)).toEqual([1, 2, 3, 4, 5]);
  });

  it('never skips ahead of a record that does not fit, even if a later one would', () => {
    const records = [sized(1, MIB), sized(2, MIB), sized(3, MIB), sized(4, MIB), sized(5, MIB - 10), sized(6, 100), { lane: 'telemetry' as const, bytes: 0, seq: 7, partitionKey: 'k', data: Buffer.alloc(0) }];
    expect(seqs(planBatch(records, LIMITS).batch)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('planBatch: bytes per record', () => {
  it('accepts a single record of exactly 1 MiB (data plus key)', () => {
    const record = sized(1, MIB, 'sensor-1');
    expect(entrySize(record)).toBe(MIB);
    expect(planBatch([record], LIMITS)).toEqual({ batch: [record], tooLarge: [] });
  });

  it('sends a record of 1 MiB + 1 to tooLarge instead of the batch', () => {
    const record = sized(1, MIB + 1, 'sensor-1');
    expect(planBatch([record], LIMITS)).toEqual({ batch: [], tooLarge: [record] });
  });

  it('does not let a too-large record hold up the ones behind it', () => {
    const records = [...small(2, 1), sized(3, MIB + 1), ...small(2, 4)];
    const plan = planBatch(records, LIMITS);
    expect(seqs(plan.batch)).toEqual([1, 2, 4, 5]);
    expect(seqs(plan.tooLarge)).toEqual([3]);
  });

  it('counts multi-byte partition keys in UTF-8 bytes, not characters', () => {
    const key = 'é'.repeat(10); // 10 characters, 20 bytes
    const fits = { lane: 'telemetry' as const, bytes: 0, seq: 1, partitionKey: key, data: Buffer.alloc(MIB - 20) };
    const over = { lane: 'telemetry' as const, bytes: 0, seq: 2, partitionKey: key, data: Buffer.alloc(MIB - 19) };
    expect(planBatch([fits], LIMITS).batch).toEqual([fits]);
    expect(planBatch([over], LIMITS).tooLarge).toEqual([over]);

    const wave = '🌊'.repeat(5); // 5 code points, 10 UTF-16 units, 20 bytes
    expect(planBatch([{ lane: 'telemetry' as const, bytes: 0, seq: 3, partitionKey: wave, data: Buffer.alloc(MIB - 19) }], LIMITS).tooLarge).toHaveLength(1);
  });

  it('counts multi-byte keys toward the per-call byte limit', () => {
    const limits: BatchLimits = { maxRecords: 500, maxBytes: 100, maxRecordBytes: 100 };
    const records = [
      { lane: 'telemetry' as const, bytes: 0, seq: 1, partitionKey: 'éé', data: Buffer.alloc(46) }, // 50 bytes
      { lane: 'telemetry' as const, bytes: 0, seq: 2, partitionKey: 'éé', data: Buffer.alloc(47) }, // 51 bytes: 101 in total
    ];
    expect(seqs(planBatch(records, limits).batch)).toEqual([1]);
  });
});

describe('planBatch: order', () => {
  it('keeps the order of the candidates, from any iterable', () => {
    function* candidates(): Generator<StoredRecord> {
      for (const seq of [7, 3, 9, 1]) yield { lane: 'telemetry' as const, bytes: 0, seq, partitionKey: `k${seq}`, data: Buffer.from('x') };
    }
    const plan = planBatch(candidates(), LIMITS);
    expect(seqs(plan.batch)).toEqual([7, 3, 9, 1]);
    expect(plan.batch.map((r) => r.partitionKey)).toEqual(['k7', 'k3', 'k9', 'k1']);
  });

  it('keeps the order of too-large records', () => {
    const plan = planBatch([sized(1, MIB + 1), ...small(1, 2), sized(3, MIB + 5)], LIMITS);
    expect(seqs(plan.tooLarge)).toEqual([1, 3]);
  });
});
