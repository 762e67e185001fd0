import { TidegateError } from '../../core/errors.js';
import type { ReadingValue } from '../../normalize/reading.js';
import type { KeyState } from './key-state.js';
import type { WindowConfig } from './schema.js';

/**
 * How a window transform's state is laid out in the checkpoint: one entry per key (`k:` + the key's group
 * values as JSON) holding its watermark, open windows and their accumulators. Per key rather than per window:
 * a reading touches one key, so a batch rewrites only the keys it touched. Each window keeps its creation
 * number, so the oldest-first eviction order survives a restart; only the order of open windows matters, so
 * the counter itself is not stored and resumes above the highest open one.
 */
export const KEY_PREFIX = 'k:';
/** The window's shape (kind, lengths, keys, fields, aggregates) the state was made with. */
export const SHAPE_KEY = 'c:';

export function encodeKey(key: Record<string, ReadingValue>): string {
  return JSON.stringify(Object.values(key));
}

export interface DecodedState {
  readonly nextSeq: number;
  readonly states: KeyState[];
  /** The shape fingerprint stored with the state; undefined for state written before it was stored. */
  readonly shape: string | undefined;
}

export function decodeState(stored: ReadonlyMap<string, string>): DecodedState {
  let nextSeq = 1;
  const states: KeyState[] = [];
  let shape: string | undefined;
  for (const [key, value] of stored) {
    if (key === SHAPE_KEY) {
      shape = value;
      continue;
    }
    const parsed = parse(key, value);
    if (key.startsWith(KEY_PREFIX)) {
      if (!isRecord(parsed) || parsed.id !== key.slice(KEY_PREFIX.length) || !Array.isArray(parsed.windows) || typeof parsed.arrivals !== 'number')
        throw corrupt(key, 'not a window key state');
      states.push(parsed as unknown as KeyState);
    } else throw corrupt(key, 'unknown state key');
  }
  for (const s of states) for (const w of s.windows) nextSeq = Math.max(nextSeq, w.seq + 1);
  return { nextSeq, states, shape };
}

function parse(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw corrupt(key, 'not JSON', err);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function corrupt(key: string, why: string, cause?: unknown): TidegateError {
  return new TidegateError('ERR_TRANSFORM_STATE', `window state "${key}" cannot be restored: ${why}; the transform's stored state was not written by this version of the window transform`, { cause });
}

/**
 * What the accumulated state depends on: a window restored under another kind, length, key, field list or
 * aggregate list would close with accumulators that do not match (a percentile without its values, a mean
 * over another key). Names, topics, bounds and lateness do not change what is accumulated.
 */
export function shapeFingerprint(c: WindowConfig): string {
  return JSON.stringify([c.kind, c.sizeMs ?? null, c.hopMs ?? null, c.gapMs ?? null, c.maxLengthMs ?? null, c.count ?? null, c.slide ?? null, c.time, c.groupBy, c.fields, c.aggregates]);
}
