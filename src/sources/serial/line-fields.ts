import type { Reading, ReadingValue, Rejection } from '../../normalize/reading.js';

/**
 * Turns the text fields of a csv or kv line into a reading's values, with the same rules as a JSON payload:
 * `ts` is epoch milliseconds (or ISO 8601), `seq` a non-negative integer, numbers must be finite.
 */

// Kinesis partition keys are 1-256 Unicode characters; the device id is the partition key.
const MAX_DEVICE_ID_CHARS = 256;
const MIN_TS_MS = Date.UTC(2000, 0, 1);
const MAX_TS_MS = Date.UTC(2200, 0, 1);
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:NaN|Infinity|inf|nan)$/i;

export type FieldResult = { ok: true; value: ReadingValue | null } | { ok: false; rejection: Rejection };

/** A bare token as a value: numbers and true/false are typed, an empty cell is "no value", the rest stays text. */
export function tokenValue(name: string, token: string): FieldResult {
  if (token === '') return { ok: true, value: null };
  if (NUMBER.test(token)) {
    const n = Number(token);
    if (!Number.isFinite(n)) return { ok: false, rejection: { reason: 'non_finite_number', message: `field "${name}" is not a finite number: ${token}` } };
    return { ok: true, value: n };
  }
  if (NON_FINITE.test(token)) return { ok: false, rejection: { reason: 'non_finite_number', message: `field "${name}" is ${token}, not a finite number` } };
  if (token === 'true' || token === 'false') return { ok: true, value: token === 'true' };
  return { ok: true, value: token };
}

export interface ReadingTarget {
  /** Fixed device id of the port, if any. */
  deviceId: string | undefined;
  deviceIdField: string;
  topic: string;
  receivedAt: number;
}

const reject = (reason: Rejection['reason'], message: string) => ({ ok: false as const, rejection: { reason, message } });

/** Builds the reading from named values (already typed by tokenValue); says precisely what is wrong otherwise. */
export function fieldsToReading(fields: Map<string, ReadingValue>, target: ReadingTarget): { ok: true; reading: Reading } | { ok: false; rejection: Rejection } {
  let deviceId = target.deviceId;
  if (deviceId === undefined) {
    const id = fields.get(target.deviceIdField);
    if (id === undefined) return reject('invalid_device_id', `line has no "${target.deviceIdField}" field; set serial[].deviceId for a port with one device, or serial[].deviceIdField`);
    deviceId = String(id);
    fields.delete(target.deviceIdField);
  }
  if (deviceId === '' || [...deviceId].length > MAX_DEVICE_ID_CHARS) return reject('invalid_device_id', `device id must be 1-${MAX_DEVICE_ID_CHARS} characters (the Kinesis partition key limit)`);
  const reading: Reading = { deviceId, topic: target.topic, receivedAt: target.receivedAt, values: {} };
  const ts = fields.get('ts');
  if (ts !== undefined) {
    const ms = typeof ts === 'number' ? ts : typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(ts) ? Date.parse(ts) : NaN;
    if (!Number.isFinite(ms) || ms < MIN_TS_MS || ms > MAX_TS_MS) return reject('invalid_ts', `"ts" must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(ts)}`);
    reading.ts = Math.round(ms);
    fields.delete('ts');
  }
  const seq = fields.get('seq');
  if (seq !== undefined) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return reject('invalid_seq', `"seq" must be a non-negative integer, got ${JSON.stringify(seq)}`);
    reading.seq = seq;
    fields.delete('seq');
  }
  for (const [name, value] of fields) {
    // A field named "__proto__" is data like any other: define it rather than hit the prototype setter.
    if (name === '__proto__') Object.defineProperty(reading.values, name, { value, enumerable: true, writable: true, configurable: true });
    else reading.values[name] = value;
  }
  if (Object.keys(reading.values).length === 0) return reject('no_values', 'line has no values besides the device id, ts and seq');
  return { ok: true, reading };
}
