import type { DecodeResult, RawMessage, Reading, ReadingValue, Rejection } from './reading.js';
import type { TopicMatcher } from './topic-map.js';

// Kinesis partition keys are 1-256 Unicode characters; the device id is the partition key.
const MAX_DEVICE_ID_CHARS = 256;
const MAX_FIELD_DEPTH = 4;
// Device timestamps must be plausible epoch milliseconds: a seconds value (1.7e9) is a common device bug.
const MIN_TS_MS = Date.UTC(2000, 0, 1);
const MAX_TS_MS = Date.UTC(2200, 0, 1);

// NaN/Infinity as bare tokens (outside strings) explain why a payload is not JSON.
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;
const NON_FINITE_TOKEN = /(^|[^\w"])-?(NaN|Infinity)\b/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface DecodeOptions {
  matchTopic: TopicMatcher;
  maxPayloadBytes: number;
}

function reject(reason: Rejection['reason'], message: string): DecodeResult {
  return { ok: false, rejection: { reason, message } };
}

/** Decodes one MQTT payload into a reading, or says precisely why it cannot. Never throws. */
export function decodeMessage(raw: RawMessage, opts: DecodeOptions): DecodeResult {
  if (raw.payload.length > opts.maxPayloadBytes) {
    return reject('payload_too_large', `payload of ${raw.payload.length} bytes exceeds mqtt.maxPayloadBytes (${opts.maxPayloadBytes})`);
  }
  const topicDeviceId = opts.matchTopic(raw.topic);
  if (topicDeviceId === null) return reject('topic_mismatch', `topic "${raw.topic}" does not match the configured topic template`);
  const deviceId = raw.deviceId ?? topicDeviceId;
  // Counted in code points (a partition key's characters), only when the UTF-16 length could exceed it.
  if (deviceId.length > MAX_DEVICE_ID_CHARS && [...deviceId].length > MAX_DEVICE_ID_CHARS) {
    return reject('invalid_device_id', `device id is longer than ${MAX_DEVICE_ID_CHARS} characters (the Kinesis partition key limit)`);
  }

  // Its own reason, not invalid_json: an empty message is usually a device or bridge clearing a retained
  // topic, a different fault from a garbled payload, and its warning must not be hidden behind theirs.
  if (raw.payload.length === 0) return reject('empty_payload', 'payload is empty (0 bytes), expected a JSON object');
  let text: string;
  try {
    text = utf8.decode(raw.payload);
  } catch {
    return reject('invalid_utf8', 'payload is not valid UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    if (NON_FINITE_TOKEN.test(text.replace(JSON_STRING, '""'))) return reject('non_finite_number', 'payload contains NaN or Infinity, which JSON cannot carry');
    return reject('invalid_json', `payload is not JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return reject('not_an_object', `payload is JSON ${Array.isArray(doc) ? 'array' : doc === null ? 'null' : typeof doc}, expected an object`);
  }

  const reading: Reading = { deviceId, topic: raw.topic, receivedAt: raw.receivedAt, values: {} };
  const fields = doc as Record<string, unknown>;
  if ('ts' in fields) {
    const ts = parseTimestamp(fields.ts);
    if (ts === null) return reject('invalid_ts', `"ts" must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(fields.ts)}`);
    reading.ts = ts;
  }
  if ('seq' in fields) {
    const seq = fields.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      return reject('invalid_seq', `"seq" must be a non-negative integer, got ${JSON.stringify(seq)}`);
    }
    reading.seq = seq;
  }
  const problem = collectValues(fields, '', 0, reading.values);
  if (problem) return { ok: false, rejection: problem };
  if (!hasOwnField(reading.values)) return reject('no_values', 'payload has no numeric, boolean or string fields besides ts and seq');
  return { ok: true, reading };
}

/** Nested objects are flattened with dotted names; null means "no value" and is skipped. */
function collectValues(obj: Record<string, unknown>, prefix: string, depth: number, out: Record<string, ReadingValue>): Rejection | null {
  // Keys, not entries: no [key, value] array per field on the hot path (issue: Pi-class efficiency).
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (depth === 0 && (key === 'ts' || key === 'seq')) continue;
    const name = prefix + key;
    if (typeof value === 'number') {
      // JSON.parse turns 1e999 into Infinity: reject rather than forward a value JSON cannot encode.
      if (!Number.isFinite(value)) return { reason: 'non_finite_number', message: `field "${name}" is not a finite number` };
      setValue(out, name, value);
    } else if (typeof value === 'string' || typeof value === 'boolean') {
      setValue(out, name, value);
    } else if (value === null) {
      continue;
    } else if (Array.isArray(value)) {
      return { reason: 'unsupported_value', message: `field "${name}" is an array; send one reading per value or an object of named fields` };
    } else if (typeof value === 'object') {
      if (depth + 1 >= MAX_FIELD_DEPTH) return { reason: 'unsupported_value', message: `field "${name}" nests deeper than ${MAX_FIELD_DEPTH} levels` };
      const problem = collectValues(value as Record<string, unknown>, `${name}.`, depth + 1, out);
      if (problem) return problem;
    }
  }
  return null;
}

function hasOwnField(values: Record<string, ReadingValue>): boolean {
  for (const key in values) if (Object.hasOwn(values, key)) return true;
  return false;
}

/** A field named "__proto__" is data like any other: define it rather than hit the prototype setter. */
function setValue(out: Record<string, ReadingValue>, name: string, value: ReadingValue): void {
  if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  else out[name] = value;
}

function parseTimestamp(value: unknown): number | null {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) ms = Date.parse(value);
  else return null;
  if (!Number.isFinite(ms) || ms < MIN_TS_MS || ms > MAX_TS_MS) return null;
  return Math.round(ms);
}
