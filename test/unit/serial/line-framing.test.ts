import { describe, expect, it } from 'vitest';
import { LineFramer, OVERSIZE_SAMPLE_BYTES } from '../../../src/sources/serial/line-framer.js';
import { LineParser, splitCsv, type LineParserOptions } from '../../../src/sources/serial/line-parser.js';

function frameAll(chunks: (string | Buffer)[], cap = 64) {
  const framer = new LineFramer(cap);
  const frames: string[] = [];
  const oversize: { total: number; sample: string }[] = [];
  const sink = { frame: (b: Buffer) => frames.push(b.toString('latin1')), oversize: (total: number, sample: Buffer) => oversize.push({ total, sample: sample.toString('latin1') }) };
  for (const c of chunks) framer.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c, sink);
  return { framer, frames, oversize, sink };
}

describe('LineFramer', () => {
  it('accepts LF and CRLF, skips blank lines, and joins a line split across chunks', () => {
    const { frames } = frameAll(['a=1\nb=2\r\n', '\r\n\nc=', '3', '\r', '\nd=4\n']);
    expect(frames).toEqual(['a=1', 'b=2', 'c=3', 'd=4']);
  });

  it('holds an unterminated line until its newline arrives', () => {
    const { frames, framer } = frameAll(['x=1\ny=', '2']);
    expect(frames).toEqual(['x=1']);
    expect(framer.bufferedBytes).toBe(3);
  });

  it('a line exactly at the cap passes; one byte more is discarded up to the newline, with its length and a sample', () => {
    const { frames, oversize } = frameAll(['a'.repeat(64) + '\n', 'b'.repeat(65) + '\nok=1\n'], 64);
    expect(frames).toEqual(['a'.repeat(64), 'ok=1']);
    expect(oversize).toEqual([{ total: 65, sample: 'b'.repeat(65) }]);
  });

  it('1 MiB without a newline holds no more than the cap, and the next line after the noise comes through', () => {
    const framer = new LineFramer(4096);
    const frames: string[] = [];
    const oversize: number[] = [];
    const sink = { frame: (b: Buffer) => frames.push(b.toString()), oversize: (total: number, sample: Buffer) => oversize.push(total, sample.length) };
    const noise = Buffer.alloc(64 * 1024, 0xaa);
    let maxHeld = 0;
    for (let i = 0; i < 16; i++) {
      framer.push(noise, sink);
      maxHeld = Math.max(maxHeld, framer.bufferedBytes);
    }
    expect(maxHeld).toBeLessThanOrEqual(4096);
    framer.push(Buffer.from('tail\nt=1\n'), sink);
    expect(oversize).toEqual([1024 * 1024 + 4, OVERSIZE_SAMPLE_BYTES]);
    expect(frames).toEqual(['t=1']);
  });

  it('an over-cap line split over many small chunks is counted whole', () => {
    const chunks = Array.from({ length: 100 }, () => 'z'.repeat(10));
    const { oversize, frames } = frameAll([...chunks, '\nk=v\n'], 64);
    // The sample is the start of the line, as much of it as was held when it crossed the cap.
    expect(oversize).toEqual([{ total: 1000, sample: 'z'.repeat(70) }]);
    expect(frames).toEqual(['k=v']);
  });

  it('flushPartial hands over what is left of a line when the port closes', () => {
    const { framer, frames, sink } = frameAll(['a=1\nhalf']);
    framer.flushPartial(sink);
    expect(frames).toEqual(['a=1', 'half']);
    expect(framer.bufferedBytes).toBe(0);
  });
});

const base: LineParserOptions = { framing: 'kv', deviceId: undefined, deviceIdField: 'deviceId', columns: undefined, headerPrefix: '#', topic: 'serial/t', maxFrameBytes: 4096 };
const parse = (opts: Partial<LineParserOptions>, ...lines: string[]) => {
  const p = new LineParser({ ...base, ...opts });
  return lines.map((l) => p.parse(Buffer.from(l, 'latin1'), 1_000));
};

describe('LineParser', () => {
  it('kv: pairs separated by spaces or commas, typed values, quoted strings, ts and seq', () => {
    const [r] = parse({}, 'deviceId=m-01 seq=7, ts=1700000000000,power_w=12.5 ok=true label="a b=c"');
    expect(r).toEqual({
      kind: 'reading',
      reading: { deviceId: 'm-01', topic: 'serial/t', receivedAt: 1_000, seq: 7, ts: 1_700_000_000_000, values: { power_w: 12.5, ok: true, label: 'a b=c' } },
    });
  });

  it('kv: garbage, NaN, a missing device id and a bad seq are rejected with their reasons', () => {
    const out = parse({}, 'deviceId=a x', 'deviceId=a t=NaN', 't=1', 'deviceId=a seq=-1 t=1', 'deviceId=a');
    expect(out.map((r) => (r.kind === 'rejected' ? r.rejection.reason : r.kind))).toEqual(['invalid_frame', 'non_finite_number', 'invalid_device_id', 'invalid_seq', 'no_values']);
    expect(out[0]).toMatchObject({ rejection: { message: expect.stringMatching(/not a key=value pair at column 12/) } });
  });

  it('NULs and other control bytes make a line invalid_frame, naming the byte and offset', () => {
    const [r] = parse({}, 'deviceId=a\u0000 t=1');
    expect(r).toEqual({ kind: 'rejected', rejection: { reason: 'invalid_frame', message: expect.stringMatching(/control byte 0x00 at offset 10/) } });
    const [u] = parse({}, 'deviceId=\xff\xfe t=1');
    expect(u).toMatchObject({ kind: 'rejected', rejection: { reason: 'invalid_utf8' } });
  });

  it('jsonl: the device id from its field, or fixed per port', () => {
    const [a] = parse({ framing: 'jsonl' }, '{"deviceId":"th-1","seq":3,"t":21.5,"nested":{"x":1}}');
    expect(a).toEqual({ kind: 'reading', reading: { deviceId: 'th-1', topic: 'serial/t', receivedAt: 1_000, seq: 3, values: { t: 21.5, 'nested.x': 1 } } });
    const [b] = parse({ framing: 'jsonl', deviceId: 'pump-7' }, '{"t":1}');
    expect(b).toMatchObject({ kind: 'reading', reading: { deviceId: 'pump-7', values: { t: 1 } } });
    const [c, d] = parse({ framing: 'jsonl' }, '{"t":1', '{"t":1}');
    expect(c).toMatchObject({ rejection: { reason: 'invalid_json' } });
    expect(d).toMatchObject({ rejection: { reason: 'invalid_device_id' } });
  });

  it('csv: columns from a header line (device-sim style), RFC 4180 quoting, and a row before any header rejected', () => {
    const out = parse({ framing: 'csv' }, 'th-1,1,20', '#deviceId,seq,t,note', 'th-1,2,20.5,"a, ""b"""', 'th-1,3,21');
    expect(out[0]).toMatchObject({ rejection: { reason: 'invalid_frame', message: expect.stringMatching(/before any header/) } });
    expect(out[1]).toEqual({ kind: 'header' });
    expect(out[2]).toMatchObject({ kind: 'reading', reading: { deviceId: 'th-1', seq: 2, values: { t: 20.5, note: 'a, "b"' } } });
    expect(out[3]).toMatchObject({ rejection: { reason: 'invalid_frame', message: 'csv row has 3 cells, the header has 4 columns' } });
  });

  it('csv: configured columns, and a plain first-line header when headerPrefix is empty', () => {
    const [a] = parse({ framing: 'csv', columns: ['deviceId', 'v'] }, 'x,5');
    expect(a).toMatchObject({ kind: 'reading', reading: { deviceId: 'x', values: { v: 5 } } });
    const [h, b] = parse({ framing: 'csv', headerPrefix: '' }, 'deviceId,v', 'y,6');
    expect(h).toEqual({ kind: 'header' });
    expect(b).toMatchObject({ kind: 'reading', reading: { deviceId: 'y', values: { v: 6 } } });
    expect(splitCsv('"a')).toBeNull();
  });
});
