import { isTidegateError } from '../core/errors.js';
import type { DecodeOptions } from '../normalize/decode.js';
import { decodeMessage } from '../normalize/decode.js';
import type { BatchOp, LevelBuffer } from './level-buffer.js';
import { DEAD_LETTER_END, DEAD_LETTER_PREFIX, deadLetterKey, encodeRecordJson, encodeStoredValue, keySeq, recordKey, storedBytes } from './record-codec.js';
import type { DeadLetter, PendingReading } from './types.js';

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
export async function listDeadLetters(q: LevelBuffer, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
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
export async function purgeDeadLetters(q: LevelBuffer, filter: DeadLetterFilter = {}): Promise<number> {
  const victims = await listDeadLetters(q, filter);
  if (victims.length === 0) return 0;
  await q.submit(victims.map((d) => ({ type: 'del', key: deadLetterKey(d.n) })), {}, -victims.length);
  return victims.length;
}

export interface ReplayResult {
  /** Dead letters that decoded and left the dead letters: stored, or what the rules made of them. */
  replayed: number;
  /**
   * With transforms or rules (a running gateway), what became of the replayed readings, as for any reading:
   * stored, filtered, consumed into a window or detector, dead-lettered again by a rule, dropped (buffer full).
   */
  outcome?: { stored: number; filtered: number; consumed: number; produced: number; deadLetteredAgain: number; dropped: number };
  /** Still invalid under the current configuration, left in place with their new reason. */
  stillInvalid: Array<{ n: number; reason: string; message: string }>;
  /** Refused before their payload was read (oversize): nothing to replay. */
  withoutPayload: number;
  /** The buffer was full (its policy would have dropped them): this many are left in the dead letters. */
  leftByFullBuffer?: number;
}

/** The running gateway's pipeline, which replayed readings go through (the transforms and rules). */
export interface ReplayPipeline {
  replay(items: ReadonlyArray<{ n: number; reason: string; reading: PendingReading }>): Promise<{ accepted: number; filtered: number; consumed: number; produced: number; dropped: number }>;
}

// Replayed through the pipeline in batches of this many: one commit each, a bounded batch in memory.
const REPLAY_BATCH = 256;

/**
 * Sends dead letters through decoding again, with the current configuration (a topic template, a size limit
 * or a device registry fixed since). Each one that is now valid leaves the dead letters in the same atomic
 * batch as what it becomes, so conservation still holds. With a `pipeline` (the running gateway), it goes
 * through the transforms and rules like a reading that just arrived; without one (no transforms or rules
 * configured, or the gateway stopped and none configured), it is stored as it is.
 */
export async function replayDeadLetters(q: LevelBuffer, gatewayId: string, decode: DecodeOptions, filter: DeadLetterFilter = {}, pipeline?: ReplayPipeline): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, stillInvalid: [], withoutPayload: 0 };
  if (pipeline) return replayThroughPipeline(q, decode, filter, pipeline, result);
  for (const d of await listDeadLetters(q, filter)) {
    const reading = decodeDead(d, decode, result);
    if (!reading) continue;
    const seq = q.takeSeq();
    const key = recordKey('telemetry', seq);
    const value = encodeStoredValue(reading.deviceId, encodeRecordJson(gatewayId, seq, reading));
    const ops: BatchOp[] = [
      { type: 'put', key, value },
      { type: 'del', key: deadLetterKey(d.n) },
    ];
    await q.submit(ops, { deadLettered: { [d.entry.reason]: -1 }, buffered: 1, bufferedBytes: storedBytes(key, value) }, -1);
    q.noteCommitted('telemetry', seq);
    result.replayed += 1;
  }
  return result;
}

async function replayThroughPipeline(q: LevelBuffer, decode: DecodeOptions, filter: DeadLetterFilter, pipeline: ReplayPipeline, result: ReplayResult): Promise<ReplayResult> {
  const outcome = { stored: 0, filtered: 0, consumed: 0, produced: 0, deadLetteredAgain: 0, dropped: 0 };
  let batch: Array<{ n: number; reason: string; reading: PendingReading }> = [];
  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    const o = await pipeline.replay(batch);
    result.replayed += batch.length;
    outcome.stored += o.accepted > 0 ? o.accepted - o.produced : 0;
    outcome.filtered += o.filtered;
    outcome.consumed += o.consumed;
    outcome.produced += o.produced;
    outcome.dropped += o.dropped;
    // Every input was stored (as itself), filtered, consumed or dead-lettered by a rule: the ledger's identity.
    outcome.deadLetteredAgain += batch.length - (o.accepted + o.dropped - o.produced) - o.filtered - o.consumed;
    batch = [];
  };
  const letters = await listDeadLetters(q, filter);
  try {
    for (const d of letters) {
      const decoded = decodeDead(d, decode, result);
      if (!decoded) continue;
      batch.push({ n: d.n, reason: d.entry.reason, reading: decoded });
      if (batch.length >= REPLAY_BATCH) await send();
    }
    await send();
  } catch (err) {
    if (!isTidegateError(err, 'ERR_QUEUE_FULL')) throw err;
    // The failed batch was not written: it and the ones not yet tried stay dead letters, to replay later.
    const tried = result.replayed + result.stillInvalid.length + result.withoutPayload;
    result.leftByFullBuffer = letters.length - tried;
  }
  result.outcome = outcome;
  return result;
}

/** The reading a dead letter decodes to now, or null (counted in `result` as without payload or still invalid). */
function decodeDead(d: StoredDeadLetter, decode: DecodeOptions, result: ReplayResult): PendingReading | null {
  const { entry } = d;
  if (entry.payloadBase64 === undefined || entry.topic === undefined) {
    result.withoutPayload += 1;
    return null;
  }
  const decoded = decodeMessage(
    { source: entry.source, topic: entry.topic, payload: Buffer.from(entry.payloadBase64, 'base64'), origin: entry.origin, receivedAt: entry.receivedAt },
    decode,
  );
  if (!decoded.ok) {
    result.stillInvalid.push({ n: d.n, reason: decoded.rejection.reason, message: decoded.rejection.message });
    return null;
  }
  return decoded.reading;
}
