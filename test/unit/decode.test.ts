import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../src/normalize/decode.js';
import type { DecodeResult, Reading, RejectReason } from '../../src/normalize/reading.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';

const TOPIC = 'devices/d1/telemetry';
const RECEIVED_AT = 1_715_000_000_000;
const MAX_PAYLOAD = 1024;
const matchTopic = compileTopicTemplate('devices/{deviceId}/#');

function decode(payload: string | Buffer | object, topic = TOPIC, maxPayloadBytes = MAX_PAYLOAD): DecodeResult {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
  return decodeMessage({ source: 'mqtt', topic, payload: bytes, origin: 'client-1', receivedAt: RECEIVED_AT }, { matchTopic, maxPayloadBytes });
}

function accepted(result: DecodeResult): Reading {
  if (!result.ok) throw new Error(`expected a reading, got ${result.rejection.reason}: ${result.rejection.message}`);
  return result.reading;
}

function rejected(result: DecodeResult, reason: RejectReason): string {
  if (result.ok) throw new Error(`expected rejection ${reason}, got a reading ${JSON.stringify(result.reading)}`);
  expect(result.rejection.reason).toBe(reason);
  return result.rejection.message;
}

describe('decodeMessage: valid readings', () => {
  it('keeps number, boolean and string fields and addresses the reading by topic', () => {
    const reading = accepted(decode({ temp: 21.5, on: true, off: false, mode: 'eco', zero: 0, neg: -3 }));
    expect(reading).toEqual({
      deviceId: 'd1',
      topic: TOPIC,
      receivedAt: RECEIVED_AT,
      values: { temp: 21.5, on: true, off: false, mode: 'eco', zero: 0, neg: -3 },
    });
    expect('ts' in reading).toBe(false);
    expect('seq' in reading).toBe(false);
  });

  it('keeps an empty string as a value', () => {
    expect(accepted(decode({ label: '' })).values).toEqual({ label: '' });
  });
});

describe('decodeMessage: ts', () => {
  it('accepts epoch milliseconds and leaves ts out of the values', () => {
    const reading = accepted(decode({ ts: 1_715_000_000_123, v: 1 }));
    expect(reading.ts).toBe(1_715_000_000_123);
    expect(reading.values).toEqual({ v: 1 });
  });

  it('rounds fractional milliseconds', () => {
    expect(accepted(decode({ ts: 1_715_000_000_000.6, v: 1 })).ts).toBe(1_715_000_000_001);
  });

  it.each([
    ['2024-05-01T12:00:00Z', Date.UTC(2024, 4, 1, 12)],
    ['2024-05-01T12:00:00.123Z', Date.UTC(2024, 4, 1, 12, 0, 0, 123)],
    ['2024-05-01T14:00:00+02:00', Date.UTC(2024, 4, 1, 12)],
  ])('accepts ISO 8601 %s', (text, ms) => {
    expect(accepted(decode({ ts: text, v: 1 })).ts).toBe(ms);
  });

  it('accepts the plausible range inclusively: 2000-01-01 and 2200-01-01', () => {
    expect(accepted(decode({ ts: Date.UTC(2000, 0, 1), v: 1 })).ts).toBe(Date.UTC(2000, 0, 1));
    expect(accepted(decode({ ts: Date.UTC(2200, 0, 1), v: 1 })).ts).toBe(Date.UTC(2200, 0, 1));
  });

  it.each([
    ['epoch seconds sent as milliseconds (1.7e9)', 1.7e9],
    ['one millisecond before 2000-01-01', Date.UTC(2000, 0, 1) - 1],
    ['one millisecond after 2200-01-01', Date.UTC(2200, 0, 1) + 1],
    ['a negative time', -1],
    ['zero', 0],
    ['a garbage string', 'yesterday'],
    ['a date without a time', '2024-05-01'],
    ['an impossible ISO date', '2024-13-45T99:00:00Z'],
    ['an ISO time before 2000', '1999-12-31T23:59:59Z'],
    ['a numeric string', '1715000000000'],
    ['a boolean', true],
    ['an object', { ms: 1_715_000_000_000 }],
  ])('rejects %s as invalid_ts', (_label, ts) => {
    const message = rejected(decode({ ts, v: 1 }), 'invalid_ts');
    expect(message).toContain(JSON.stringify(ts));
  });

  it('rejects ts 1e999 (Infinity after JSON.parse) as invalid_ts', () => {
    rejected(decode('{"ts":1e999,"v":1}'), 'invalid_ts');
  });
});

describe('decodeMessage: seq', () => {
  it.each([0, 1, 42, Number.MAX_SAFE_INTEGER])('accepts seq %d and leaves it out of the values', (seq) => {
    const reading = accepted(decode({ seq, v: 1 }));
    expect(reading.seq).toBe(seq);
    expect(reading.values).toEqual({ v: 1 });
  });

  it.each([
    ['negative', -1],
    ['a float', 1.5],
    ['a numeric string', '7'],
    ['beyond the safe integer range', 2 ** 53],
    ['a boolean', true],
  ])('rejects seq that is %s as invalid_seq', (_label, seq) => {
    const message = rejected(decode({ seq, v: 1 }), 'invalid_seq');
    expect(message).toContain(JSON.stringify(seq));
  });
});

describe('decodeMessage: nested fields', () => {
  it('flattens nested objects with dotted names', () => {
    const reading = accepted(decode({ env: { temp: 20, hum: { rel: 40, ok: true } }, fw: 'v1' }));
    expect(reading.values).toEqual({ 'env.temp': 20, 'env.hum.rel': 40, 'env.hum.ok': true, fw: 'v1' });
  });

  it('only skips ts and seq at the top level', () => {
    const reading = accepted(decode({ gps: { ts: 5, seq: 6 } }));
    expect(reading.values).toEqual({ 'gps.ts': 5, 'gps.seq': 6 });
    expect('ts' in reading).toBe(false);
  });

  it('accepts four levels of names (a.b.c.d)', () => {
    expect(accepted(decode({ a: { b: { c: { d: 1 } } } })).values).toEqual({ 'a.b.c.d': 1 });
  });

  it('rejects a fifth level as unsupported_value, naming the field', () => {
    const message = rejected(decode({ a: { b: { c: { d: { e: 1 } } } } }), 'unsupported_value');
    expect(message).toContain('"a.b.c.d"');
  });

  it('skips null fields', () => {
    expect(accepted(decode({ a: null, b: 1, n: { x: null, y: 2 } })).values).toEqual({ b: 1, 'n.y': 2 });
  });

  it('rejects an array as unsupported_value, naming the field', () => {
    expect(rejected(decode({ v: [1, 2] }), 'unsupported_value')).toContain('"v"');
    expect(rejected(decode({ a: { b: [] } }), 'unsupported_value')).toContain('"a.b"');
  });
});

describe('decodeMessage: payloads that are not a JSON object', () => {
  it.each(['hello', '{"a":1', '{a:1}', "{'a':1}", ' '])('rejects %j as invalid_json', (text) => {
    rejected(decode(text), 'invalid_json');
  });

  it('rejects a payload of 0 bytes as empty_payload (a retained topic being cleared), not as invalid_json', () => {
    expect(rejected(decode(''), 'empty_payload')).toContain('0 bytes');
  });

  it.each([
    ['a lone 0xff byte', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
    ['an overlong encoding of "/"', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])],
    ['a truncated multi-byte sequence', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d])],
    ['an encoded UTF-16 surrogate', Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d])],
  ])('rejects %s as invalid_utf8', (_label, bytes) => {
    rejected(decode(bytes), 'invalid_utf8');
  });

  it.each([
    ['[1,2]', 'array'],
    ['"text"', 'string'],
    ['null', 'null'],
    ['42', 'number'],
    ['true', 'boolean'],
  ])('rejects JSON %s as not_an_object (%s)', (text, kind) => {
    expect(rejected(decode(text), 'not_an_object')).toContain(`JSON ${kind}`);
  });

  it.each(['{"v": NaN}', '{"v": Infinity}', '{"v": -Infinity}', '{"a": {"b": NaN}}'])('rejects literal %s as non_finite_number', (text) => {
    rejected(decode(text), 'non_finite_number');
  });

  it.each([
    ['{"v":1e999}', '"v"'],
    ['{"v":-1e999}', '"v"'],
    ['{"a":{"b":1e999}}', '"a.b"'],
  ])('rejects %s (parses to Infinity) as non_finite_number naming %s', (text, field) => {
    expect(rejected(decode(text), 'non_finite_number')).toContain(field);
  });

  it('does not mistake the string "NaN" for a number', () => {
    expect(accepted(decode({ state: 'NaN', other: 'Infinity' })).values).toEqual({ state: 'NaN', other: 'Infinity' });
  });

  it.each([
    ['an empty object', {}],
    ['only ts and seq', { ts: 1_715_000_000_000, seq: 1 }],
    ['only null fields', { a: null }],
    ['only an empty nested object', { a: {} }],
  ])('rejects %s as no_values', (_label, doc) => {
    rejected(decode(doc), 'no_values');
  });
});

describe('decodeMessage: size, topic and device id', () => {
  /** A JSON object payload of exactly `bytes` bytes. */
  function payloadOf(bytes: number): Buffer {
    const overhead = Buffer.byteLength('{"s":""}');
    const payload = Buffer.from(`{"s":"${'x'.repeat(bytes - overhead)}"}`, 'utf8');
    expect(payload.length).toBe(bytes);
    return payload;
  }

  it('accepts a payload of exactly maxPayloadBytes', () => {
    expect(accepted(decode(payloadOf(MAX_PAYLOAD))).values.s).toHaveLength(MAX_PAYLOAD - 8);
  });

  it('rejects a payload one byte over maxPayloadBytes as payload_too_large', () => {
    const message = rejected(decode(payloadOf(MAX_PAYLOAD + 1)), 'payload_too_large');
    expect(message).toContain(`${MAX_PAYLOAD + 1} bytes`);
  });

  it('counts the payload size in bytes, not characters', () => {
    // 'é' is two bytes in UTF-8: 509 characters of content are 1018 bytes, 1026 with the braces.
    const payload = Buffer.from(`{"s":"${'é'.repeat(509)}"}`, 'utf8');
    expect(payload.length).toBe(MAX_PAYLOAD + 2);
    rejected(decode(payload), 'payload_too_large');
  });

  it('checks the size before anything else', () => {
    rejected(decode(Buffer.alloc(MAX_PAYLOAD + 1, 0xff), 'not/matching'), 'payload_too_large');
  });

  it('rejects a topic that does not match the template as topic_mismatch', () => {
    expect(rejected(decode({ v: 1 }, 'sensors/d1/telemetry'), 'topic_mismatch')).toContain('"sensors/d1/telemetry"');
    rejected(decode({ v: 1 }, 'devices//telemetry'), 'topic_mismatch');
  });

  it('accepts a device id of 256 characters (the Kinesis partition key limit)', () => {
    const id = 'd'.repeat(256);
    expect(accepted(decode({ v: 1 }, `devices/${id}/t`)).deviceId).toBe(id);
  });

  it('rejects a device id of 257 characters as invalid_device_id', () => {
    rejected(decode({ v: 1 }, `devices/${'d'.repeat(257)}/t`), 'invalid_device_id');
  });

  it('counts the device id in characters, not UTF-8 bytes', () => {
    const id = 'é'.repeat(256);
    expect(accepted(decode({ v: 1 }, `devices/${id}/t`)).deviceId).toBe(id);
    rejected(decode({ v: 1 }, `devices/${'é'.repeat(257)}/t`), 'invalid_device_id');
  });
});

describe('decodeMessage: look-alikes', () => {
  it('reports broken JSON that only mentions NaN inside a string as invalid_json', () => {
    rejected(decode('{"state": "NaN"'), 'invalid_json');
    rejected(decode('{"note": "Infinity and beyond",'), 'invalid_json');
  });

  it('keeps a field named __proto__ as data', () => {
    const reading = accepted(decode('{"__proto__": 5, "a": 1}'));
    expect(Object.keys(reading.values).sort()).toEqual(['__proto__', 'a']);
    expect(JSON.parse(JSON.stringify(reading.values))).toEqual(JSON.parse('{"__proto__": 5, "a": 1}'));
  });
});
