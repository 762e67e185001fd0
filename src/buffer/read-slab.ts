import type { StoredRecord } from './types.js';

/** A shared buffer is at most this large; records beyond it start another. */
export const SLAB_BYTES = 1024 * 1024;
/** Records with more data than this keep the buffer they were read into. */
export const SLAB_MAX_RECORD_BYTES = 4 * 1024;

/**
 * Moves the data of records read together into shared buffers, so each record is a view of one of them.
 *
 * LevelDB hands every value of a read over in a buffer of its own: an ArrayBuffer, its backing store and its
 * accounting per record, kept for as long as the record waits in the read window and rides its call. They
 * live long enough to be promoted, and every full collection visits and sweeps each array buffer (issue
 * "Pi-class efficiency": in a burst, the full collections' pauses a quarter shorter and the peak 1-4 MiB
 * lower; bench/RESULTS.md). The copy is a few hundred bytes per record.
 *
 * A shared buffer lives while any of its records does: one record that keeps being retried holds up to
 * SLAB_BYTES of its neighbours' data. Large records, and a record read alone, keep their own buffer: there
 * the overhead is small beside the data, or nothing would be shared.
 */
export function shareReadBuffers(records: StoredRecord[]): void {
  // A lone record would trade its buffer for another of the same size (a steady rate reads one or a few).
  if (records.length < 2) return;
  let slab: Buffer | null = null;
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const data = record.data;
    const length = data.length;
    if (length > SLAB_MAX_RECORD_BYTES) continue;
    if (slab === null || at + length > slab.length) {
      slab = Buffer.allocUnsafeSlow(slabBytesFrom(records, i));
      at = 0;
    }
    data.copy(slab, at);
    record.data = slab.subarray(at, at + length);
    at += length;
  }
}

/** What the small records from `first` on need, up to SLAB_BYTES: a read of a few records takes no more than they do. */
function slabBytesFrom(records: readonly StoredRecord[], first: number): number {
  let bytes = 0;
  for (let i = first; i < records.length; i++) {
    const length = records[i]!.data.length;
    if (length > SLAB_MAX_RECORD_BYTES) continue;
    if (bytes + length > SLAB_BYTES) break;
    bytes += length;
  }
  return bytes;
}
