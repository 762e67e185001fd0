import { describe, expect, it } from 'vitest';
import { SLAB_BYTES, SLAB_MAX_RECORD_BYTES, shareReadBuffers } from '../../src/buffer/read-slab.js';
import type { StoredRecord } from '../../src/buffer/types.js';

/** A record as a read returns it: its data a view into a value buffer of its own, after a header. */
function readRecord(seq: number, data: Buffer): StoredRecord {
  const value = Buffer.concat([Buffer.from('crc32xx\u0000key\u0000'), data]);
  return { lane: 'telemetry', seq, partitionKey: 'key', data: value.subarray(value.length - data.length), bytes: value.length + 20 };
}

const json = (seq: number, size: number): Buffer => Buffer.from(JSON.stringify({ seq, pad: 'x'.repeat(Math.max(0, size - 20)) }));

describe('records read together share their data buffers', () => {
  it('keeps every record byte for byte, each in one buffer sized for the read', () => {
    const originals = Array.from({ length: 50 }, (_, i) => json(i, 100 + i));
    const records = originals.map((d, i) => readRecord(i, d));
    shareReadBuffers(records);
    expect(records.map((r) => r.data.toString())).toEqual(originals.map((d) => d.toString()));
    const buffers = new Set(records.map((r) => r.data.buffer));
    expect(buffers.size).toBe(1);
    expect([...buffers][0]!.byteLength).toBe(originals.reduce((sum, d) => sum + d.length, 0));
  });

  it('copies: the value buffers they were read into can be reused without changing them', () => {
    const records = [readRecord(1, json(1, 80)), readRecord(2, json(2, 80))];
    const before = records.map((r) => r.data.toString());
    const values = records.map((r) => Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length));
    shareReadBuffers(records);
    for (const v of values) v.fill(0);
    expect(records.map((r) => r.data.toString())).toEqual(before);
  });

  it('leaves large records in their own buffers and starts another shared buffer when one is full', () => {
    const big = readRecord(0, json(0, SLAB_MAX_RECORD_BYTES + 100));
    expect(big.data.length).toBeGreaterThan(SLAB_MAX_RECORD_BYTES);
    const bigBuffer = big.data.buffer;
    const perSlab = Math.floor(SLAB_BYTES / 4000);
    const small = Array.from({ length: perSlab + 10 }, (_, i) => readRecord(i + 1, json(i + 1, 4000)));
    const records = [big, ...small];
    const expected = records.map((r) => r.data.toString());
    shareReadBuffers(records);
    expect(records.map((r) => r.data.toString())).toEqual(expected);
    expect(big.data.buffer).toBe(bigBuffer);
    const slabs = [...new Set(small.map((r) => r.data.buffer))];
    expect(slabs).toHaveLength(2);
    expect(slabs.every((b) => b.byteLength <= SLAB_BYTES)).toBe(true);
    expect(slabs[1]!.byteLength).toBe(small.slice(perSlab).reduce((sum, r) => sum + r.data.length, 0));
  });

  it('leaves a record read alone in its own buffer: there is nothing to share it with', () => {
    const record = readRecord(1, json(1, 100));
    const before = record.data;
    shareReadBuffers([record]);
    expect(record.data).toBe(before);
  });

  it('handles empty data and an empty read', () => {
    const records = [readRecord(1, Buffer.alloc(0)), readRecord(2, json(2, 30))];
    shareReadBuffers(records);
    expect(records[0]!.data.length).toBe(0);
    expect(records[1]!.data.toString()).toBe(json(2, 30).toString());
    expect(() => shareReadBuffers([])).not.toThrow();
  });
});
