import { TidegateError } from '../core/errors.js';

/**
 * The few parts of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/) that the
 * KPL aggregate needs: varints, length-delimited fields, and skipping of fields it does not know. Every read
 * is bounds-checked; anything out of shape throws ERR_KPL_MALFORMED, never a RangeError.
 */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

export function malformed(where: string, why: string): TidegateError {
  return new TidegateError('ERR_KPL_MALFORMED', `KPL aggregated record is malformed at ${where}: ${why}`);
}

export class ProtobufReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  get offset(): number {
    return this.pos;
  }

  /**
   * An unsigned varint of at most 10 bytes. Values above 2^53 lose precision as numbers; they are only ever
   * table indexes here, and an index that large is out of range either way.
   */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(`byte ${this.pos}`, 'varint runs past the end');
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw malformed(`byte ${this.pos}`, 'varint longer than 10 bytes');
  }

  /** A field key: field number and wire type. */
  key(): { field: number; wire: number } {
    const at = this.pos;
    const k = this.varint();
    const field = Math.floor(k / 8);
    if (field === 0) throw malformed(`byte ${at}`, 'field number 0');
    return { field, wire: k % 8 };
  }

  /** The bounds [start, end) of a length-delimited field's payload; the reader moves past it. */
  lengthDelimited(): { start: number; end: number } {
    const at = this.pos;
    const length = this.varint();
    if (length > this.end - this.pos) throw malformed(`byte ${at}`, `length ${length} runs past the end (${this.end - this.pos} bytes left)`);
    const start = this.pos;
    this.pos += length;
    return { start, end: this.pos };
  }

  bytes(): Uint8Array {
    const { start, end } = this.lengthDelimited();
    return this.buf.subarray(start, end);
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  /** Skips a field this decoder does not use; groups (wire types 3 and 4, deprecated) are refused. */
  skip(wire: number): void {
    const at = this.pos;
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8, at);
        return;
      case WIRE_LENGTH_DELIMITED:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4, at);
        return;
      default:
        throw malformed(`byte ${at}`, `unsupported wire type ${wire}`);
    }
  }

  /** Checks that a known field came with the wire type its schema declares. */
  expect(wire: number, want: number, field: string): void {
    if (wire !== want) throw malformed(`byte ${this.pos}`, `field ${field} has wire type ${wire}, expected ${want}`);
  }

  private advance(n: number, at: number): void {
    if (n > this.end - this.pos) throw malformed(`byte ${at}`, 'fixed-width field runs past the end');
    this.pos += n;
  }
}
