/**
 * Wire formats. MQTT: a JSON object per reading (the topic names the device).
 * Serial: one line per reading in the framing the port speaks, the device id
 * inside the line because a port carries many devices:
 *   jsonl  {"deviceId":"th-001","seq":1,"ts":1700000000000,"boot":"9f3a0c1e","temperature":21.4}
 *   csv    a header line "#deviceId,seq,ts,boot,temperature,humidity" whenever the columns change,
 *          then "th-001,1,1700000000000,9f3a0c1e,21.4,45.2" (RFC 4180 quoting)
 *   kv     deviceId=th-001 seq=1 ts=1700000000000 boot=9f3a0c1e temperature=21.4
 * Numbers are written with String(), so a junk NaN stays a bare NaN token.
 */
import type { Framing } from '../scenario/schema.js';
import type { Value } from './generators.js';

export interface WireReading {
  deviceId: string;
  /** Numbers for readings; junk payloads may carry anything. */
  seq: number | string | undefined;
  ts: number | string | undefined;
  boot: string | undefined;
  values: Record<string, Value>;
}

const jsonValue = (v: Value): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** The JSON object; field names are validated identifiers, so they need no escaping. */
export function jsonBody(r: WireReading, withDeviceId: boolean): string {
  let s = withDeviceId ? `{"deviceId":${JSON.stringify(r.deviceId)},` : '{';
  const head: string[] = [];
  if (r.seq !== undefined) head.push(`"seq":${typeof r.seq === 'string' ? JSON.stringify(r.seq) : String(r.seq)}`);
  if (r.ts !== undefined) head.push(`"ts":${typeof r.ts === 'string' ? JSON.stringify(r.ts) : String(r.ts)}`);
  if (r.boot !== undefined) head.push(`"boot":"${r.boot}"`);
  s += head.join(',');
  for (const name in r.values) s += `${s.length > 1 ? ',' : ''}"${name}":${jsonValue(r.values[name] as Value)}`;
  return `${s}}`;
}

const PAD_PREFIX = ',"pad":"';
let padSource = '';

/**
 * Adds a `pad` string field so the JSON is exactly `bytes` long (payloads are
 * ASCII, so chars == bytes); a reading already longer is left as it is.
 */
export function padJson(json: string, bytes: number): string {
  if (bytes <= 0) return json;
  const padLen = bytes - json.length - PAD_PREFIX.length - 1;
  if (padLen < 0) return json;
  // Slicing a cached string avoids allocating a fresh repeat() per reading.
  if (padSource.length < padLen) padSource = 'x'.repeat(Math.max(padLen, 1024));
  return `${json.slice(0, -1)}${PAD_PREFIX}${padSource.slice(0, padLen)}"}`;
}

export function mqttPayload(r: WireReading, payloadBytes: number): string {
  return padJson(jsonBody(r, false), payloadBytes);
}

function csvCell(v: Value | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function kvValue(v: Value): string {
  const s = String(v);
  return typeof v === 'string' && (s === '' || /[\s"=]/.test(s)) ? JSON.stringify(s) : s;
}

/** Encodes readings as lines for one serial port; csv remembers the last header it wrote. */
export class LineEncoder {
  private lastHeader = '';

  constructor(
    readonly framing: Framing,
    readonly eol: string,
  ) {}

  line(r: WireReading): string {
    switch (this.framing) {
      case 'jsonl':
        return jsonBody(r, true) + this.eol;
      case 'kv': {
        let s = `deviceId=${kvValue(r.deviceId)}`;
        if (r.seq !== undefined) s += ` seq=${kvValue(r.seq)}`;
        if (r.ts !== undefined) s += ` ts=${kvValue(r.ts)}`;
        if (r.boot !== undefined) s += ` boot=${r.boot}`;
        for (const name in r.values) s += ` ${name}=${kvValue(r.values[name] as Value)}`;
        return s + this.eol;
      }
      case 'csv': {
        const names = Object.keys(r.values);
        const header = `#deviceId,seq,ts,boot${names.length ? ',' : ''}${names.join(',')}`;
        const row = [r.deviceId, r.seq, r.ts, r.boot, ...names.map((n) => r.values[n])].map(csvCell).join(',') + this.eol;
        if (header === this.lastHeader) return row;
        this.lastHeader = header;
        return header + this.eol + row;
      }
    }
  }
}
