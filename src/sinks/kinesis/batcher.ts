import type { StoredRecord } from '../../buffer/types.js';

/** Size that counts toward the Kinesis limits: data plus partition key (UTF-8 bytes). */
export function entrySize(r: StoredRecord): number {
  return r.data.length + Buffer.byteLength(r.partitionKey, 'utf8');
}
