/**
 * Payloads that are not valid readings: malformed (one per gateway rejection
 * reason), oversize, and serial line noise. None carries a valid (seq, values)
 * pair, so none can land in the stream as a reading: they are dead letters by
 * design and stay out of the ledger. None carries `boot` either, because the
 * gateway would take that string as a value and accept a `no_values` probe.
 */
import { jsonBody, padJson, type LineEncoder, type WireReading } from '../model/encode.js';
import type { Rng } from '../model/random.js';
import type { MalformedKind } from '../scenario/schema.js';

function variant(kind: MalformedKind, r: WireReading): WireReading {
  const base = { deviceId: r.deviceId, seq: undefined, ts: r.ts, boot: undefined, values: r.values };
  switch (kind) {
    case 'non_finite_number': {
      const [first] = Object.keys(r.values);
      return { ...base, values: { ...r.values, [first ?? 'value']: Number.NaN } };
    }
    case 'invalid_ts':
      return { ...base, ts: 'yesterday' };
    case 'invalid_seq':
      return { ...base, seq: -1 };
    case 'no_values':
      return { ...base, values: {} };
    default:
      return base;
  }
}

const cut = (s: string): string => s.slice(0, Math.max(2, Math.floor(s.length * 0.6)));

export function malformedMqtt(kind: MalformedKind, r: WireReading): string | Buffer {
  switch (kind) {
    case 'invalid_json':
      return cut(jsonBody(variant(kind, r), false));
    case 'invalid_utf8':
      return Buffer.concat([Buffer.from('{"note":"'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('"}')]);
    case 'not_an_object':
      return JSON.stringify(Object.values(r.values));
    default:
      return jsonBody(variant(kind, r), false);
  }
}

export function malformedLine(kind: MalformedKind, r: WireReading, enc: LineEncoder): string | Buffer {
  switch (kind) {
    case 'invalid_json':
      return cut(enc.line(variant(kind, r)).trimEnd()) + enc.eol;
    case 'invalid_utf8':
      return Buffer.concat([Buffer.from(`deviceId=${r.deviceId} note=`), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from(enc.eol)]);
    case 'not_an_object':
      return (enc.framing === 'jsonl' ? JSON.stringify(Object.values(r.values)) : `hello from ${r.deviceId}`) + enc.eol;
    default:
      return enc.line(variant(kind, r));
  }
}

/** Valid JSON, but `bytes` long: larger than the gateway accepts. */
export function oversizeMqtt(r: WireReading, bytes: number): string {
  return padJson(jsonBody({ deviceId: r.deviceId, seq: undefined, ts: r.ts, boot: undefined, values: { blob: '' } }, false), bytes);
}

export function oversizeLine(r: WireReading, bytes: number, enc: LineEncoder): string {
  const line = enc.line({ deviceId: r.deviceId, seq: undefined, ts: r.ts, boot: undefined, values: { blob: '' } });
  return line.trimEnd() + 'x'.repeat(Math.max(0, bytes - line.length)) + enc.eol;
}

/** Random bytes without line breaks, then a line break, so the next line is intact. */
export function noiseLine(rng: Rng, bytes: number, eol: string): Buffer {
  const out = Buffer.alloc(bytes + eol.length);
  for (let i = 0; i < bytes; i++) {
    let b = Math.floor(rng() * 256);
    if (b === 0x0a || b === 0x0d) b = 0x00;
    out[i] = b;
  }
  out.write(eol, bytes, 'latin1');
  return out;
}
