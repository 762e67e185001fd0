import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTidegateError } from '../../src/core/errors.js';
import { deaggregate, isAggregated, KPL_MAGIC } from '../../src/kinesis-agg/deaggregate.js';
import { kplAggregate, type UserRecord } from '../helpers/kpl-aggregate.js';

// aws-kinesis-agg builds its key tables with Object.keys(), which lists array-index-like keys ("0" to
// "4294967294") first, in numeric order, so its tables disagree with its own indexes for such keys. Keys
// are drawn outside that range (and "__proto__", which an object literal cannot hold as its own key) so the comparison checks tidegate's decoder, not that quirk.
const isArrayIndexLike = (k: string): boolean => /^(0|[1-9]\d*)$/.test(k) && BigInt(k) < 2n ** 32n - 1n;
const userRecord = fc.record(
  {
    partitionKey: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((k) => !isArrayIndexLike(k) && k !== '__proto__'),
    explicitHashKey: fc.bigInt({ min: 2n ** 32n, max: 2n ** 128n - 1n }).map(String),
    data: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  },
  { requiredKeys: ['partitionKey', 'data'] },
);

/** Rebuilds an aggregate around a protobuf body, with a correct checksum. */
function wrap(body: Uint8Array): Buffer {
  return Buffer.concat([KPL_MAGIC, body, createHash('md5').update(body).digest()]);
}

describe('KPL de-aggregation', () => {
  it('returns a record without the magic bytes as it is, with the Kinesis partition key', () => {
    const data = Buffer.from('{"id":"gw-1"}');
    expect(deaggregate(data, 'dev-1')).toEqual([{ partitionKey: 'dev-1', data, subSequence: 0, aggregated: false }]);
    expect(deaggregate(Buffer.alloc(0), 'dev-1')).toHaveLength(1);
    expect(isAggregated(Buffer.from([0xf3, 0x89, 0x9a]))).toBe(false);
  });

  it('reads aggregates built by aws-kinesis-agg exactly as they were put in', () => {
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 1, maxLength: 30 }), (records: UserRecord[]) => {
        const built = kplAggregate(records);
        expect(isAggregated(built.data)).toBe(true);
        const subs = deaggregate(built.data, built.partitionKey);
        expect(subs.map((s) => ({ partitionKey: s.partitionKey, data: s.data, explicitHashKey: s.explicitHashKey }))).toEqual(
          records.map((r) => ({ partitionKey: r.partitionKey, data: r.data, explicitHashKey: r.explicitHashKey })),
        );
        expect(subs.map((s) => s.subSequence)).toEqual(records.map((_, i) => i));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an aggregate whose MD5 does not match, with ERR_KPL_CHECKSUM', () => {
    const built = kplAggregate([{ partitionKey: 'a', data: Buffer.from('hello') }]);
    built.data[built.data.length - 1]! ^= 0x01;
    expect(() => deaggregate(built.data, 'a')).toThrowError(expect.objectContaining({ code: 'ERR_KPL_CHECKSUM' }));
  });

  it('refuses a record with the magic bytes but too short for a checksum, with ERR_KPL_MALFORMED', () => {
    expect(() => deaggregate(Buffer.concat([KPL_MAGIC, Buffer.from([1, 2, 3])]), 'a')).toThrowError(expect.objectContaining({ code: 'ERR_KPL_MALFORMED' }));
  });

  it('names what is wrong: an index outside the key table, a missing data field, a truncated length', () => {
    // records { partition_key_index: 3, data: "x" } with an empty key table.
    expect(() => deaggregate(wrap(Buffer.from([0x1a, 0x05, 0x08, 0x03, 0x1a, 0x01, 0x78])), 'a')).toThrowError(/partition_key_index 3 is outside the table of 0 key/);
    // partition_key_table ["a"], records { partition_key_index: 0 } without data.
    expect(() => deaggregate(wrap(Buffer.from([0x0a, 0x01, 0x61, 0x1a, 0x02, 0x08, 0x00])), 'a')).toThrowError(/data \(required\) is missing/);
    // partition_key_table with a length of 9 and one byte left.
    expect(() => deaggregate(wrap(Buffer.from([0x0a, 0x09, 0x61])), 'a')).toThrowError(/length 9 runs past the end/);
  });

  it('skips tags and unknown fields', () => {
    // partition_key_table ["k"], records { partition_key_index: 0, data: "d", tags { key: "t" } }, unknown field 9 (varint).
    const body = Buffer.from([0x0a, 0x01, 0x6b, 0x1a, 0x0a, 0x08, 0x00, 0x1a, 0x01, 0x64, 0x22, 0x03, 0x0a, 0x01, 0x74, 0x48, 0x05]);
    expect(deaggregate(wrap(body), 'ignored')).toEqual([{ partitionKey: 'k', data: Buffer.from('d'), subSequence: 0, aggregated: true }]);
  });

  it('on any mutation of a valid aggregate, yields sub-records or a typed error, never another exception', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 1, maxLength: 8 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (records, mutations, fixChecksum) => {
        const built = kplAggregate(records);
        // Mutate the protobuf body; re-sealing it with a fresh MD5 makes the decoder (not only the checksum) face it.
        let body: Buffer = Buffer.from(built.data.subarray(KPL_MAGIC.length, built.data.length - 16));
        for (const m of mutations) {
          const at = body.length === 0 ? 0 : m.at % body.length;
          if (m.kind === 'flip' && body.length > 0) body[at]! ^= 1 << m.bit;
          else if (m.kind === 'truncate') body = body.subarray(0, at);
          else if (m.kind === 'insert') body = Buffer.concat([body.subarray(0, at), m.bytes, body.subarray(at)]);
        }
        const sealed = fixChecksum ? wrap(body) : Buffer.concat([KPL_MAGIC, body, built.data.subarray(built.data.length - 16)]);
        try {
          const subs = deaggregate(sealed, built.partitionKey);
          for (const s of subs) {
            expect(typeof s.partitionKey).toBe('string');
            expect(Buffer.isBuffer(s.data)).toBe(true);
          }
        } catch (err) {
          expect(isTidegateError(err, 'ERR_KPL_CHECKSUM') || isTidegateError(err, 'ERR_KPL_MALFORMED')).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
