import { createHash } from 'node:crypto';
import { TidegateError } from '../core/errors.js';
import { malformed, ProtobufReader, WIRE_LENGTH_DELIMITED, WIRE_VARINT } from './protobuf-reader.js';

import { KPL_MAGIC, MD5_BYTES } from './format.js';

export { KPL_MAGIC };

export interface SubRecord {
  partitionKey: string;
  /** Only when the sub-record named one in the aggregate's explicit hash key table. */
  explicitHashKey?: string;
  data: Buffer;
  /** Position inside the aggregate (0 for a record that was not aggregated), as the KCL's sub-sequence number. */
  subSequence: number;
  aggregated: boolean;
}

export function isAggregated(data: Uint8Array): boolean {
  return data.length >= KPL_MAGIC.length && KPL_MAGIC.every((b, i) => data[i] === b);
}

/**
 * The user records inside one Kinesis record. A record without the magic bytes is returned as it is. An
 * aggregate whose checksum does not match, or whose protobuf is out of shape, throws a TidegateError
 * (ERR_KPL_CHECKSUM or ERR_KPL_MALFORMED) and nothing else.
 */
export function deaggregate(data: Uint8Array, partitionKey: string): SubRecord[] {
  if (!isAggregated(data)) return [{ partitionKey, data: Buffer.from(data), subSequence: 0, aggregated: false }];
  if (data.length < KPL_MAGIC.length + MD5_BYTES) {
    throw new TidegateError('ERR_KPL_MALFORMED', `KPL aggregated record of ${data.length} bytes is too short for the magic bytes and the MD5 checksum`);
  }
  const body = data.subarray(KPL_MAGIC.length, data.length - MD5_BYTES);
  const want = data.subarray(data.length - MD5_BYTES);
  const got = createHash('md5').update(body).digest();
  if (!got.equals(want)) {
    throw new TidegateError('ERR_KPL_CHECKSUM', `KPL aggregated record checksum mismatch: MD5 of the ${body.length}-byte protobuf is ${got.toString('hex')}, the record says ${Buffer.from(want).toString('hex')}`);
  }
  return decodeAggregatedRecord(body);
}

interface RawRecord {
  partitionKeyIndex?: number;
  explicitHashKeyIndex?: number;
  data?: Uint8Array;
}

function decodeAggregatedRecord(body: Uint8Array): SubRecord[] {
  const keys: string[] = [];
  const hashKeys: string[] = [];
  const raw: RawRecord[] = [];
  const r = new ProtobufReader(body);
  while (!r.done) {
    const { field, wire } = r.key();
    if (field === 1) {
      r.expect(wire, WIRE_LENGTH_DELIMITED, 'partition_key_table');
      keys.push(r.string());
    } else if (field === 2) {
      r.expect(wire, WIRE_LENGTH_DELIMITED, 'explicit_hash_key_table');
      hashKeys.push(r.string());
    } else if (field === 3) {
      r.expect(wire, WIRE_LENGTH_DELIMITED, 'records');
      const { start, end } = r.lengthDelimited();
      raw.push(decodeRecord(body, start, end));
    } else {
      r.skip(wire);
    }
  }
  // Tables may come after the records on the wire, so indexes are resolved once everything is read.
  return raw.map((rec, i) => {
    const where = `record ${i}`;
    if (rec.partitionKeyIndex === undefined) throw malformed(where, 'partition_key_index (required) is missing');
    if (rec.data === undefined) throw malformed(where, 'data (required) is missing');
    const partitionKey = keys[rec.partitionKeyIndex];
    if (partitionKey === undefined) throw malformed(where, `partition_key_index ${rec.partitionKeyIndex} is outside the table of ${keys.length} key(s)`);
    const sub: SubRecord = { partitionKey, data: Buffer.from(rec.data), subSequence: i, aggregated: true };
    if (rec.explicitHashKeyIndex !== undefined) {
      const hashKey = hashKeys[rec.explicitHashKeyIndex];
      if (hashKey === undefined) throw malformed(where, `explicit_hash_key_index ${rec.explicitHashKeyIndex} is outside the table of ${hashKeys.length} key(s)`);
      sub.explicitHashKey = hashKey;
    }
    return sub;
  });
}

function decodeRecord(buf: Uint8Array, start: number, end: number): RawRecord {
  const out: RawRecord = {};
  const r = new ProtobufReader(buf, start, end);
  while (!r.done) {
    const { field, wire } = r.key();
    if (field === 1) {
      r.expect(wire, WIRE_VARINT, 'partition_key_index');
      out.partitionKeyIndex = r.varint();
    } else if (field === 2) {
      r.expect(wire, WIRE_VARINT, 'explicit_hash_key_index');
      out.explicitHashKeyIndex = r.varint();
    } else if (field === 3) {
      r.expect(wire, WIRE_LENGTH_DELIMITED, 'data');
      out.data = r.bytes();
    } else {
      // Tags (field 4) carry nothing a consumer of tidegate's records needs; they are skipped like unknown fields.
      r.skip(wire);
    }
  }
  return out;
}
