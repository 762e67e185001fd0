/**
 * Cuts a byte stream into lines at `\n` (a trailing `\r` is dropped, so CRLF and LF both work), with a cap on
 * the line length. serialport's ReadlineParser/DelimiterParser buffer a frame without limit, so binary noise or
 * a wrong baud rate (no newline for a long time) would grow memory without bound; here a line over the cap is
 * discarded byte by byte up to the next newline, and only its length and a short sample are kept.
 */
export interface FrameSink {
  /** A complete line, without its delimiter; the buffer may be a view into the chunk (copy it to keep it). */
  frame(line: Buffer): void;
  /** A line longer than the cap ended (or the stream ended inside it): its full length and its first bytes. */
  oversize(totalBytes: number, sample: Buffer): void;
}

const LF = 0x0a;
const CR = 0x0d;
/** How much of an over-cap line is kept for the dead letter: enough to recognise what was on the line. */
export const OVERSIZE_SAMPLE_BYTES = 256;

export class LineFramer {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Length of the over-cap line being discarded, or -1 when not discarding. */
  private discarded = -1;
  private sample: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for the line in progress (at most the cap plus one chunk's worth, never more). */
  get bufferedBytes(): number {
    return this.partBytes;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk, start, end);
      if (nl === -1) return;
      this.endLine(sink);
      start = nl + 1;
    }
  }

  /**
   * Hands over what is left of an unterminated line (the port closed mid-line) as an oversize report when it
   * was over the cap, or as a frame otherwise, and starts afresh.
   */
  flushPartial(sink: FrameSink): void {
    if (this.discarded >= 0 || this.partBytes > 0) this.endLine(sink);
  }

  private take(chunk: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len === 0) return;
    if (this.discarded >= 0) {
      this.discarded += len;
      return;
    }
    if (this.partBytes + len > this.maxFrameBytes) {
      const head = this.parts.length > 0 ? Buffer.concat([...this.parts, chunk.subarray(start, Math.min(end, start + OVERSIZE_SAMPLE_BYTES))]) : chunk.subarray(start, end);
      this.sample = Buffer.from(head.subarray(0, OVERSIZE_SAMPLE_BYTES));
      this.discarded = this.partBytes + len;
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    this.parts.push(chunk.subarray(start, end));
    this.partBytes += len;
  }

  private endLine(sink: FrameSink): void {
    if (this.discarded >= 0) {
      const total = this.discarded;
      const sample = this.sample;
      this.discarded = -1;
      this.sample = Buffer.alloc(0);
      sink.oversize(total, sample);
      return;
    }
    let line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
    // Blank lines (a bare CRLF between records, a terminal's keep-alive) carry nothing to keep.
    if (line.length > 0) sink.frame(line);
  }
}
