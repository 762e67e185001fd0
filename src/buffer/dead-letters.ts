import { isTidegateError } from '../core/errors.js';
import type { DecodeOptions } from '../normalize/decode.js';
import { decodeMessage } from '../normalize/decode.js';
import type { LevelBuffer } from './level-buffer.js';
import { DEAD_LETTER_END, DEAD_LETTER_PREFIX, deadLetterKey, keySeq } from './record-codec.js';
import type { DeadLetter, PendingReading, ReplacedDeadLetters } from './types.js';

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
   * What became of the replayed readings, as for any reading: stored, filtered, consumed into a window or
   * detector, dead-lettered again by a rule, dropped (buffer full).
   */
  outcome: { stored: number; filtered: number; consumed: number; produced: number; deadLetteredAgain: number; dropped: number };
  /** Still invalid under the current configuration, left in place with their new reason. */
  stillInvalid: Array<{ n: number; reason: string; message: string }>;
  /** Refused before their payload was read (oversize): nothing to replay. */
  withoutPayload: number;
  /** The buffer was full (its policy would have dropped them): this many are left in the dead letters. */
  leftByFullBuffer?: number;
}

/** Readings decoded again from dead letters, each with the dead letter it replaces. */
export type ReplayItem = { n: number; reason: string; reading: PendingReading };

/** Where replayed readings go: the running gateway's pipeline (its transforms and rules), or the buffer itself. */
export interface ReplayPipeline {
  replay(items: readonly ReplayItem[]): Promise<{ accepted: number; filtered: number; consumed: number; produced: number; dropped: number }>;
}

/** The dead letters a batch of replayed readings replaces, deleted in the commit that stores what they became. */
export function replacedBy(items: readonly ReplayItem[]): ReplacedDeadLetters {
  const reasons: Record<string, number> = {};
  for (const item of items) reasons[item.reason] = (reasons[item.reason] ?? 0) + 1;
  return { numbers: items.map((i) => i.n), reasons };
}

/** Without transforms or rules (an operator tool on a stopped gateway): the readings are stored as they are. */
export function bufferReplay(q: LevelBuffer): ReplayPipeline {
  return {
    async replay(items) {
      const stored = (await q.append(items.map((i) => i.reading), { replaces: replacedBy(items) })) === 'stored';
      return { accepted: stored ? items.length : 0, filtered: 0, consumed: 0, produced: 0, dropped: stored ? 0 : items.length };
    },
  };
}

// Replayed in batches of this many: one commit each, a bounded batch in memory.
const REPLAY_BATCH = 256;

/**
 * Sends dead letters through decoding again, with the current configuration (a topic template, a size limit
 * or a device registry fixed since), then through `pipeline`: the running gateway's transforms and rules, as
 * for a reading that just arrived, or (by default) straight into the buffer. Each batch leaves the dead
 * letters in the same atomic commit as what its readings became, so conservation still holds, and a
 * reading is counted as received once however often it is replayed.
 */
export async function replayDeadLetters(q: LevelBuffer, decode: DecodeOptions, filter: DeadLetterFilter = {}, pipeline: ReplayPipeline = bufferReplay(q)): Promise<ReplayResult> {
  const outcome = { stored: 0, filtered: 0, consumed: 0, produced: 0, deadLetteredAgain: 0, dropped: 0 };
  const result: ReplayResult = { replayed: 0, outcome, stillInvalid: [], withoutPayload: 0 };
  let batch: ReplayItem[] = [];
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
