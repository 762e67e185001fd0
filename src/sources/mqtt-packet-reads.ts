import { requireResolved, resolveAsSeenBy } from '../core/require-from.js';

interface BufferListLike {
  _bufs: Buffer[];
  length: number;
}
type Proto = Record<string | symbol, unknown>;

const PATCHED = Symbol.for('tidegate.bufferListReads');

/**
 * mqtt-packet's parser keeps the bytes of a socket read in a `bl` BufferList and reads each packet's header
 * byte, remaining length, topic length, topic and packet identifier through it. `bl` implements every
 * one of those reads as a slice first: an offset pair and a new Buffer view per read, five or six per
 * PUBLISH, which made bl the largest allocator left in a burst's allocation profile: about 0.8 KB of the
 * 9.4 KB a reading allocated (issue: Pi-class efficiency; bench/RESULTS.md, End to end).
 *
 * This gives `readUInt8`, `readUInt16BE`, `readUInt32BE` and `toString` of the BufferList mqtt-packet uses
 * a direct read from the buffer that holds the bytes. The result is the same byte for byte; a read that
 * spans two buffers, is out of range or has an odd argument goes to bl's own method, so bl's errors stay
 * its own. `bl` copies its methods onto the stream class at load, so both prototypes get them. Idempotent;
 * a `bl` that cannot be found, or that does not keep its buffers in `_bufs`, is left alone. Returns whether
 * the reads are direct.
 */
export function readMqttPacketsWithoutSlices(): boolean {
  // Each connection to a site broker calls this: after the first, nothing is resolved again.
  outcome ??= patchBufferList();
  return outcome;
}

/** What the first call found: whether the reads are direct. */
let outcome: boolean | undefined;

function patchBufferList(): boolean {
  let bl: { prototype: Proto; BufferList?: { prototype: Proto } };
  try {
    bl = requireResolved<typeof bl>(resolveAsSeenBy('mqtt-packet', 'bl')).exports;
  } catch {
    return false;
  }
  const protos = [bl.prototype, bl.BufferList?.prototype].filter((p): p is Proto => p !== undefined);
  const probe = new (bl as unknown as new () => BufferListLike)();
  if (!Array.isArray(probe._bufs) || typeof probe.length !== 'number') return false;
  // patch() skips a prototype already done by another copy of this module (a test runner's fresh module graph).
  for (const proto of protos) patch(proto);
  return true;
}

function patch(proto: Proto): void {
  if (proto[PATCHED] === true) return;
  const slow = {
    readUInt8: proto.readUInt8 as (this: BufferListLike, offset?: number) => number,
    readUInt16BE: proto.readUInt16BE as (this: BufferListLike, offset?: number) => number,
    readUInt32BE: proto.readUInt32BE as (this: BufferListLike, offset?: number) => number,
    toString: proto.toString as (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number) => string,
  };
  proto.readUInt8 = function readUInt8(this: BufferListLike, offset = 0): number {
    const i = locate(this, offset, 1);
    return i < 0 ? slow.readUInt8.call(this, offset) : this._bufs[i]![within]!;
  };
  proto.readUInt16BE = function readUInt16BE(this: BufferListLike, offset = 0): number {
    const i = locate(this, offset, 2);
    return i < 0 ? slow.readUInt16BE.call(this, offset) : this._bufs[i]!.readUInt16BE(within);
  };
  proto.readUInt32BE = function readUInt32BE(this: BufferListLike, offset = 0): number {
    const i = locate(this, offset, 4);
    return i < 0 ? slow.readUInt32BE.call(this, offset) : this._bufs[i]!.readUInt32BE(within);
  };
  proto.toString = function toString(this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number): string {
    if (typeof start === 'number' && typeof end === 'number' && end > start) {
      const i = locate(this, start, end - start);
      if (i >= 0) return this._bufs[i]!.toString(encoding, within, within + (end - start));
    }
    return slow.toString.call(this, encoding, start, end);
  };
  Object.defineProperty(proto, PATCHED, { value: true });
}

/** Where in its buffer the bytes `locate` found start; read right after the call (a number: it holds nothing). */
let within = 0;

/** The index in `_bufs` of the buffer holding bytes `offset` to `offset + bytes - 1`, all of them; else -1. */
function locate(list: BufferListLike, offset: number, bytes: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset + bytes > list.length) return -1;
  let rest = offset;
  const bufs = list._bufs;
  for (let i = 0; i < bufs.length; i++) {
    const length = bufs[i]!.length;
    if (rest < length) {
      if (rest + bytes > length) return -1; // spans two buffers
      within = rest;
      return i;
    }
    rest -= length;
  }
  return -1;
}
