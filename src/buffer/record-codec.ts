import { crc32 } from 'node:zlib';
import type { Reading } from '../normalize/reading.js';
import type { Lane, StoredRecord } from './types.js';

/**
 * Keys: a lane prefix plus the sequence as 16 hex digits, so lexicographic order equals numeric order,
 * an iterator walks a lane oldest first and a cursor is a single seek.
 */
const LANE_PREFIX: Record<Lane, string> = { alarm: 'r!a!', telemetry: 'r!t!' };
export const recordPrefix = (lane: Lane): string => LANE_PREFIX[lane];
export const recordEnd = (lane: Lane): string => `${LANE_PREFIX[lane].slice(0, -1)}~`;
export const DEAD_LETTER_PREFIX = 'd!';
export const DEAD_LETTER_END = 'd~';
export const STATE_PREFIX = 's!';
export const STATE_END = 's~';
/**
 * The notification outbox (alarm webhook): one entry per alarm record, keyed by the record's own sequence, so
 * the outbox walks in commit order and an entry's id is the record's. Outside r!, so the ledger, the pruner
 * and the sinks never see it; it holds no readings and is not counted in the buffer's budget.
 */
export const OUTBOX_PREFIX = 'o!';
export const OUTBOX_END = 'o~';
export const outboxKey = (seq: number): string => OUTBOX_PREFIX + seq.toString(16).padStart(16, '0');
export const META_NEXT_SEQ = 'm!next-seq';
export const META_NEXT_DEAD_LETTER = 'm!next-dead-letter';
export const META_CONSERVATION = 'm!conservation';
export const META_DEAD_LETTERS_STORED = 'm!dead-letters-stored';
export const metaCursorKey = (sinkId: string, lane: Lane): string => `m!cursor!${sinkId}!${lane}`;

/**
 * What an iterator that reads records in bulk (a sink's read, the pruner's scan) gathers per round trip to
 * LevelDB's thread. classic-level's default, 16 KiB, is about 50 readings: a read of 500 took ten trips, each
 * a thread wake-up and a callback (0.4–1.3 µs per record read, measured; issue "Pi-class efficiency"). A
 * read's records are held in memory together anyway (at most the dispatcher's read-ahead window), so the
 * larger trips add at most this much, briefly, on LevelDB's side. classic-level's own iterator option,
 * spread into abstract-level's options; other stores ignore it.
 */
export const BULK_READ = { highWaterMarkBytes: 1024 * 1024 } as const;

export const recordKey = (lane: Lane, seq: number): string => LANE_PREFIX[lane] + seq.toString(16).padStart(16, '0');
export const deadLetterKey = (n: number): string => DEAD_LETTER_PREFIX + n.toString(16).padStart(16, '0');
export const keySeq = (key: string): number => parseInt(key.slice(key.lastIndexOf('!') + 1), 16);

// MQTT forbids NUL in topic names [MQTT-4.7.3-2], so it can never occur inside a device id.
const SEPARATOR = '\u0000';
const CRC_CHARS = 8;

/** The record a consumer sees: stable id (gateway id + buffer sequence) first, for de-duplication. */
export function encodeRecordJson(gatewayId: string, seq: number, r: Reading): string {
  return withRecordId(gatewayId, seq, encodeRecordBody(r));
}

/**
 * The record without its id, encoded once: its size is known before a sequence is taken (the budget check
 * may have to wait), and the id is spliced in front afterwards instead of encoding the reading again.
 */
export function encodeRecordBody(r: Reading): string {
  return JSON.stringify({
    kind: r.kind ?? 'reading',
    deviceId: r.deviceId,
    topic: r.topic,
    ts: r.ts,
    seq: r.seq,
    receivedAt: r.receivedAt,
    values: r.values,
    tags: r.tags,
    result: r.result,
  });
}

/**
 * What a reading will count against the budget, before its sequence (and so its id and key) is known:
 * the body with an id of sequence 0 spliced in, plus the partition key and room for key and checksum.
 */
export function estimateStoredBytes(body: string, deviceId: string, gatewayId: string): number {
  // withRecordId(gatewayId, 0, body).length is body.length + gatewayId.length + 10.
  return body.length + gatewayId.length + 10 + deviceId.length + 40;
}

/** `{"id":"<gatewayId>-<seq>",` + the body without its opening brace. */
export function withRecordId(gatewayId: string, seq: number, body: string): string {
  return `{"id":${JSON.stringify(`${gatewayId}-${seq}`)},${body.slice(1)}`;
}

/**
 * Stored value: CRC-32 of the rest (8 hex digits), the partition key, NUL, the record. The checksum lets a
 * damaged record be recognised and dead-lettered alone instead of forwarding garbage or wedging the sink
 * (LevelDB does not verify block checksums on reads by default). Encoded to bytes once, here: the checksum,
 * the store and the in-memory tail all use these bytes (a string value was encoded to UTF-8 three times).
 */
export function encodeStoredValue(partitionKey: string, json: string): Buffer {
  const value = Buffer.from(CRC_ROOM + partitionKey + SEPARATOR + json, 'utf8');
  value.write(crc32(value.subarray(CRC_CHARS)).toString(16).padStart(CRC_CHARS, '0'), 0, CRC_CHARS, 'latin1');
  return value;
}

/**
 * `encodeStoredValue(partitionKey, withRecordId(gatewayId, seq, body))`, byte for byte, written straight
 * into the value's buffer: no id-spliced string, no joined string to encode again (two copies of each
 * record per reading on the way in; issue: Pi-class efficiency).
 */
export function encodeStoredRecord(partitionKey: string, gatewayId: string, seq: number, body: string): Buffer {
  // The id without its closing brace's comma: the body's opening brace is overwritten by it below.
  const id = `{"id":${JSON.stringify(`${gatewayId}-${seq}`)}`;
  const keyBytes = Buffer.byteLength(partitionKey, 'utf8');
  const idBytes = Buffer.byteLength(id, 'utf8');
  const value = Buffer.allocUnsafe(CRC_CHARS + keyBytes + 1 + idBytes + Buffer.byteLength(body, 'utf8'));
  let at = CRC_CHARS + value.write(partitionKey, CRC_CHARS, 'utf8');
  value[at++] = 0; // SEPARATOR
  at += value.write(id, at, 'utf8');
  value.write(body, at, 'utf8');
  value[at] = 0x2c; // the body's "{" becomes the "," after the id
  value.write(crc32(value.subarray(CRC_CHARS)).toString(16).padStart(CRC_CHARS, '0'), 0, CRC_CHARS, 'latin1');
  return value;
}

/** Where the checksum goes: it covers the bytes after it, so it is written once they are encoded. */
const CRC_ROOM = '0'.repeat(CRC_CHARS);

/** The record a stored value holds, as a read would return it, without checking it: it was just encoded. */
export function storedRecordOf(lane: Lane, seq: number, key: string, partitionKey: string, value: Buffer): StoredRecord {
  const data = value.subarray(CRC_CHARS + Buffer.byteLength(partitionKey, 'utf8') + 1);
  return { lane, seq, partitionKey, data, bytes: storedBytes(key, value) };
}

export class DamagedRecordError extends Error {
  constructor(
    readonly key: string,
    why: string,
  ) {
    super(`record ${key} is damaged: ${why}`);
    this.name = 'DamagedRecordError';
  }
}

/** Decodes a stored value read as bytes: the data is a view into it, not a copy. */
export function decodeStoredValue(lane: Lane, key: string, value: Buffer): StoredRecord {
  if (value.length <= CRC_CHARS + 1) throw new DamagedRecordError(key, 'too short');
  const want = parseInt(value.toString('latin1', 0, CRC_CHARS), 16);
  const body = value.subarray(CRC_CHARS);
  if (crc32(body) !== want) throw new DamagedRecordError(key, 'checksum mismatch');
  const cut = body.indexOf(0);
  if (cut <= 0) throw new DamagedRecordError(key, 'no partition key');
  return { lane, seq: keySeq(key), partitionKey: body.toString('utf8', 0, cut), data: body.subarray(cut + 1), bytes: key.length + value.length };
}

/** Budget bytes of a value about to be stored (key plus value bytes). */
export function storedBytes(key: string, value: Buffer): number {
  return key.length + value.length;
}
