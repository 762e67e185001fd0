import { decodeMessage } from '../../normalize/decode.js';
import type { Reading, ReadingValue, Rejection } from '../../normalize/reading.js';
import { fieldsToReading, tokenValue, type FieldResult } from './line-fields.js';

export type Framing = 'jsonl' | 'csv' | 'kv';

export interface LineParserOptions {
  framing: Framing;
  deviceId: string | undefined;
  deviceIdField: string;
  /** csv: fixed column names. */
  columns: readonly string[] | undefined;
  /** csv: a line starting with this names the columns; empty: the first line after reset() does. */
  headerPrefix: string;
  topic: string;
  maxFrameBytes: number;
}

export type ParseResult = { kind: 'reading'; reading: Reading } | { kind: 'header' } | { kind: 'rejected'; rejection: Rejection };

const utf8 = new TextDecoder('utf-8', { fatal: true });
// One key=value pair: a bare value, or a JSON-quoted one (device-sim quotes strings with spaces or "=").
const KV_PAIR = /([^\s,="]+)=("(?:[^"\\]|\\.)*"|[^\s,"]*)/y;
const KV_GAP = /[\s,]+/y;

const invalid = (message: string): ParseResult => ({ kind: 'rejected', rejection: { reason: 'invalid_frame', message } });

/** Parses one line in the port's framing into a reading, a csv header, or a precise rejection. Never throws. */
export class LineParser {
  private columns: readonly string[] | undefined;

  constructor(private readonly opts: LineParserOptions) {
    this.columns = opts.columns;
  }

  /** The port was reopened: a header learnt from the stream may no longer hold. */
  reset(): void {
    this.columns = this.opts.columns;
  }

  parse(line: Buffer, receivedAt: number): ParseResult {
    const control = firstControlByte(line);
    if (control >= 0) {
      return invalid(`line contains control byte 0x${line[control]!.toString(16).padStart(2, '0')} at offset ${control} (line noise, or a baud rate or framing mismatch with the device)`);
    }
    let text: string;
    try {
      text = utf8.decode(line);
    } catch {
      return { kind: 'rejected', rejection: { reason: 'invalid_utf8', message: 'line is not valid UTF-8 text (line noise, or a baud rate mismatch with the device)' } };
    }
    switch (this.opts.framing) {
      case 'jsonl':
        return this.parseJson(line, receivedAt);
      case 'kv':
        return this.parseKv(text, receivedAt);
      case 'csv':
        return this.parseCsv(text, receivedAt);
    }
  }

  private target(receivedAt: number) {
    return { deviceId: this.opts.deviceId, deviceIdField: this.opts.deviceIdField, topic: this.opts.topic, receivedAt };
  }

  /** The same decoding as an MQTT payload (JSON rules, ts/seq, nesting), then the device id from its field. */
  private parseJson(line: Buffer, receivedAt: number): ParseResult {
    const fixed = this.opts.deviceId;
    const result = decodeMessage(
      { source: 'serial', topic: this.opts.topic, payload: line, origin: '', receivedAt },
      { matchTopic: () => fixed ?? '-', maxPayloadBytes: this.opts.maxFrameBytes },
    );
    if (!result.ok) return { kind: 'rejected', rejection: result.rejection };
    const reading = result.reading;
    if (fixed === undefined) {
      const field = this.opts.deviceIdField;
      const id = reading.values[field];
      if (typeof id !== 'string' && typeof id !== 'number') {
        return { kind: 'rejected', rejection: { reason: 'invalid_device_id', message: `line has no "${field}" string field; set serial[].deviceId for a port with one device, or serial[].deviceIdField` } };
      }
      const fields = new Map<string, ReadingValue>(Object.entries(reading.values));
      const built = fieldsToReading(fields, this.target(receivedAt));
      if (!built.ok) return { kind: 'rejected', rejection: built.rejection };
      if (reading.ts !== undefined) built.reading.ts = reading.ts;
      if (reading.seq !== undefined) built.reading.seq = reading.seq;
      return { kind: 'reading', reading: built.reading };
    }
    return { kind: 'reading', reading };
  }

  private parseKv(text: string, receivedAt: number): ParseResult {
    const fields = new Map<string, ReadingValue>();
    let at = 0;
    KV_GAP.lastIndex = 0;
    if (KV_GAP.test(text)) at = KV_GAP.lastIndex;
    while (at < text.length) {
      KV_PAIR.lastIndex = at;
      const m = KV_PAIR.exec(text);
      if (!m) return invalid(`not a key=value pair at column ${at + 1}: ${JSON.stringify(text.slice(at, at + 32))}`);
      const [, key, raw] = m as unknown as [string, string, string];
      const value = raw.startsWith('"') ? quoted(key, raw) : tokenValue(key, raw);
      if (!value.ok) return { kind: 'rejected', rejection: value.rejection };
      if (value.value !== null) fields.set(key, value.value);
      at = KV_PAIR.lastIndex;
      if (at >= text.length) break;
      KV_GAP.lastIndex = at;
      if (!KV_GAP.test(text)) return invalid(`expected a space or comma after "${key}=${raw}" at column ${at + 1}`);
      at = KV_GAP.lastIndex;
    }
    if (fields.size === 0) return invalid('line has no key=value pairs');
    const built = fieldsToReading(fields, this.target(receivedAt));
    return built.ok ? { kind: 'reading', reading: built.reading } : { kind: 'rejected', rejection: built.rejection };
  }

  private parseCsv(text: string, receivedAt: number): ParseResult {
    const prefix = this.opts.headerPrefix;
    const isHeader = prefix !== '' ? text.startsWith(prefix) : this.columns === undefined;
    if (isHeader) {
      const cells = splitCsv(prefix !== '' ? text.slice(prefix.length) : text);
      if (cells === null || cells.some((c) => c === '')) return invalid(`csv header is not a list of column names: ${JSON.stringify(text.slice(0, 64))}`);
      // Configured columns win over a header in the stream.
      if (this.opts.columns === undefined) this.columns = cells;
      return { kind: 'header' };
    }
    const columns = this.columns;
    if (columns === undefined) return invalid('csv row before any header line: set serial[].columns, or have the device write a header line');
    const cells = splitCsv(text);
    if (cells === null) return invalid('csv row has an unterminated quoted cell');
    if (cells.length !== columns.length) return invalid(`csv row has ${cells.length} cells, the header has ${columns.length} columns`);
    const fields = new Map<string, ReadingValue>();
    for (const [i, cell] of cells.entries()) {
      const name = columns[i]!;
      const value = tokenValue(name, cell);
      if (!value.ok) return { kind: 'rejected', rejection: value.rejection };
      if (value.value !== null) fields.set(name, value.value);
    }
    const built = fieldsToReading(fields, this.target(receivedAt));
    return built.ok ? { kind: 'reading', reading: built.reading } : { kind: 'rejected', rejection: built.rejection };
  }
}

/** Offset of the first byte below 0x20 other than tab, or DEL; -1 when there is none. */
function firstControlByte(line: Buffer): number {
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) return i;
  }
  return -1;
}

function quoted(key: string, raw: string): FieldResult {
  try {
    return { ok: true, value: JSON.parse(raw) as string };
  } catch {
    return { ok: false, rejection: { reason: 'invalid_frame', message: `value of "${key}" is not a valid quoted string: ${raw.slice(0, 32)}` } };
  }
}

/** RFC 4180 cells of one line ("" inside quotes is a quote); null when a quote is left open. */
export function splitCsv(line: string): string[] | null {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        cell += line.slice(i, q);
        if (line[q + 1] === '"') {
          cell += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push(cell);
      if (i >= line.length) return cells;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) {
        cells.push(line.slice(i));
        return cells;
      }
      cells.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}
