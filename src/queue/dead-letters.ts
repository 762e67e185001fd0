import type { DecodeOptions } from '../normalize/decode.js';
import { decodeMessage } from '../normalize/decode.js';
import type { BatchOp, LevelQueue } from './level-queue.js';
import { DEAD_LETTER_END, DEAD_LETTER_PREFIX, deadLetterKey, encodeRecordJson, encodeStoredValue, keySeq, recordKey, storedBytes } from './record-codec.js';
import type { DeadLetter } from './types.js';

export interface StoredDeadLetter {
  n: number;
  entry: DeadLetter;
}

export interface DeadLetterFilter {
  reason?: string;
  /** Only these dead-letter numbers. */
  ids?: readonly number[];
  limit?: number;
}

const matches = (d: StoredDeadLetter, f: DeadLetterFilter): boolean =>
  (f.reason === undefined || d.entry.reason === f.reason) && (f.ids === undefined || f.ids.includes(d.n));

/** Reads dead letters oldest first, streaming from the store (never the whole area in memory at once). */
export async function listDeadLetters(q: LevelQueue, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  const limit = filter.limit ?? Infinity;
  for await (const [key, value] of q.db.iterator({ gt: DEAD_LETTER_PREFIX, lt: DEAD_LETTER_END })) {
    const d = { n: keySeq(key), entry: JSON.parse(value) as DeadLetter };
    if (!matches(d, filter)) continue;
    out.push(d);
    if (out.length >= limit) break;
  }
  return out;
}

/** Deletes dead letters (the ledger keeps counting them as dead-lettered: purging removes evidence, not history). */
export async function purgeDeadLetters(q: LevelQueue, filter: DeadLetterFilter = {}): Promise<number> {
  const victims = await listDeadLetters(q, filter);
  if (victims.length === 0) return 0;
  await q.submit(victims.map((d) => ({ type: 'del', key: deadLetterKey(d.n) })), {}, -victims.length);
  return victims.length;
}

export interface ReplayResult {
  replayed: number;
  /** Still invalid under the current configuration, left in place with their new reason. */
  stillInvalid: Array<{ n: number; reason: string; message: string }>;
  /** Refused before their payload was read (oversize): nothing to replay. */
  withoutPayload: number;
}

/**
 * Sends dead letters through decoding again, with the current configuration (a topic template or size
 * limit fixed since). Each one that is now valid becomes a reading and leaves the dead letters in the same
 * atomic batch: it moves from `deadLettered` to `buffered` in the ledger, so conservation still holds.
 */
export async function replayDeadLetters(q: LevelQueue, gatewayId: string, decode: DecodeOptions, filter: DeadLetterFilter = {}): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, stillInvalid: [], withoutPayload: 0 };
  for (const d of await listDeadLetters(q, filter)) {
    const { entry } = d;
    if (entry.payloadBase64 === undefined || entry.topic === undefined) {
      result.withoutPayload += 1;
      continue;
    }
    const decoded = decodeMessage(
      { source: entry.source, topic: entry.topic, payload: Buffer.from(entry.payloadBase64, 'base64'), origin: entry.origin, receivedAt: entry.receivedAt },
      decode,
    );
    if (!decoded.ok) {
      result.stillInvalid.push({ n: d.n, reason: decoded.rejection.reason, message: decoded.rejection.message });
      continue;
    }
    const seq = q.takeSeq();
    const key = recordKey('telemetry', seq);
    const value = encodeStoredValue(decoded.reading.deviceId, encodeRecordJson(gatewayId, seq, decoded.reading));
    const ops: BatchOp[] = [
      { type: 'put', key, value },
      { type: 'del', key: deadLetterKey(d.n) },
    ];
    await q.submit(ops, { deadLettered: { [entry.reason]: -1 }, buffered: 1, bufferedBytes: storedBytes(key, value) }, -1);
    q.noteCommitted('telemetry', seq);
    result.replayed += 1;
  }
  return result;
}
