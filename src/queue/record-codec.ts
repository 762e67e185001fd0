import type { Reading } from '../normalize/reading.js';
import type { StoredRecord } from './types.js';

/**
 * Keys are a prefix plus the sequence as 16 hex digits: lexicographic order equals numeric order, so
 * an iterator walks the queue oldest first and a cursor is a single seek.
 */
export const RECORD_PREFIX = 'r!';
export const RECORD_END = 'r~';
export const DEAD_LETTER_PREFIX = 'd!';
export const DEAD_LETTER_END = 'd~';
export const META_NEXT_SEQ = 'm!next-seq';
export const META_NEXT_DEAD_LETTER = 'm!next-dead-letter';
export const metaCursorKey = (sinkId: string): string => `m!cursor!${sinkId}`;

export const seqKey = (prefix: string, seq: number): string => prefix + seq.toString(16).padStart(16, '0');
export const keySeq = (key: string): number => parseInt(key.slice(2), 16);

// MQTT forbids NUL in topic names [MQTT-4.7.3-2], so it can never occur inside a device id.
const SEPARATOR = '\u0000';

/** The record a consumer sees: stable id (gateway id + queue sequence) first, for de-duplication. */
export function encodeRecordJson(gatewayId: string, seq: number, r: Reading): string {
  return JSON.stringify({
    id: `${gatewayId}-${seq}`,
    deviceId: r.deviceId,
    topic: r.topic,
    ts: r.ts,
    seq: r.seq,
    receivedAt: r.receivedAt,
    values: r.values,
  });
}

export function encodeStoredValue(partitionKey: string, json: string): string {
  return partitionKey + SEPARATOR + json;
}

/** Decodes a stored value read as bytes: the data is a view into it, not a copy. */
export function decodeStoredValue(key: string, value: Buffer): StoredRecord {
  const cut = value.indexOf(0);
  if (cut <= 0) throw new Error(`record ${key} is damaged: no partition key`);
  return { seq: keySeq(key), partitionKey: value.toString('utf8', 0, cut), data: value.subarray(cut + 1) };
}
