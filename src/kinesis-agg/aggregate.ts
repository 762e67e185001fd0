import { createHash } from 'node:crypto';
import { KPL_MAGIC, MD5_BYTES } from './format.js';

/**
 * KPL aggregated-record encoding (the format the Kinesis Producer Library writes and the KCL and
 * `aws-kinesis-agg` read): the 4 magic bytes, a protobuf `AggregatedRecord`, then the MD5 of that protobuf.
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
 *
 * tidegate only aggregates sub-records that share one partition key: the KCL drops sub-records whose key
 * hashes outside the shard holding the aggregate (after a reshard), which cannot happen with one key.
 */

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len += 1;
  }
  return len;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** Bytes one sub-record adds to the protobuf: field 3 (records) wrapping index 0 and the data. */
export function subRecordBytes(dataLength: number): number {
  // Record: key 0x08 + index 0 (2 bytes), key 0x1a + length + data.
  const inner = 2 + 1 + varintLength(dataLength) + dataLength;
  return 1 + varintLength(inner) + inner;
}

/** Fixed bytes of an aggregate with one partition key: magic, the key table entry, the MD5. */
export function aggregateOverheadBytes(partitionKey: string): number {
  const keyBytes = Buffer.byteLength(partitionKey, 'utf8');
  return KPL_MAGIC.length + 1 + varintLength(keyBytes) + keyBytes + MD5_BYTES;
}

/** Encodes sub-records that share `partitionKey` into one KPL aggregated record. */
export function encodeAggregate(partitionKey: string, records: readonly Uint8Array[]): Buffer {
  const key = Buffer.from(partitionKey, 'utf8');
  let protoBytes = 1 + varintLength(key.length) + key.length;
  for (const r of records) protoBytes += subRecordBytes(r.length);
  const out = Buffer.allocUnsafe(KPL_MAGIC.length + protoBytes + MD5_BYTES);
  KPL_MAGIC.copy(out, 0);
  let o = KPL_MAGIC.length;
  out[o++] = 0x0a; // field 1, length-delimited: partition_key_table[0]
  o = writeVarint(out, o, key.length);
  o += key.copy(out, o);
  for (const r of records) {
    const inner = 2 + 1 + varintLength(r.length) + r.length;
    out[o++] = 0x1a; // field 3, length-delimited: records[]
    o = writeVarint(out, o, inner);
    out[o++] = 0x08; // field 1, varint: partition_key_index
    out[o++] = 0x00;
    out[o++] = 0x1a; // field 3, length-delimited: data
    o = writeVarint(out, o, r.length);
    out.set(r, o);
    o += r.length;
  }
  const proto = out.subarray(KPL_MAGIC.length, o);
  createHash('md5').update(proto).digest().copy(out, o);
  return out;
}
