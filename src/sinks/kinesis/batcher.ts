import type { StoredRecord } from '../../queue/types.js';
import type { BatchLimits } from './limits.js';

/** Size that counts toward the Kinesis limits: data plus partition key (UTF-8 bytes). */
export function entrySize(r: StoredRecord): number {
  return r.data.length + Buffer.byteLength(r.partitionKey, 'utf8');
}

export interface BatchPlan {
  batch: StoredRecord[];
  /** Records that can never be accepted (over the per-record limit); they go to the dead letters. */
  tooLarge: StoredRecord[];
}

/**
 * Takes records in order into one PutRecords call until the next would break the entry or byte limit.
 * Never splits a record and never skips ahead of one that does not fit (it waits for the next call).
 */
export function planBatch(candidates: Iterable<StoredRecord>, limits: BatchLimits): BatchPlan {
  const batch: StoredRecord[] = [];
  const tooLarge: StoredRecord[] = [];
  let bytes = 0;
  for (const r of candidates) {
    const size = entrySize(r);
    if (size > limits.maxRecordBytes) {
      tooLarge.push(r);
      continue;
    }
    if (batch.length >= limits.maxRecords || bytes + size > limits.maxBytes) break;
    batch.push(r);
    bytes += size;
  }
  return { batch, tooLarge };
}
