import type { ModbusRegisterConfig } from './config.js';

/**
 * Register values as numbers. Modbus carries 16-bit registers big-endian (Modbus Application Protocol v1.1b3,
 * section 4.2); 32-bit values span two registers in an order the standard leaves open, so devices differ
 * ("ABCD" high word first, "CDAB" low word first), and a few also swap the bytes inside each register.
 */

/** Registers (function 3/4) or bits (function 1/2) one value occupies. */
export function registerCount(reg: Pick<ModbusRegisterConfig, 'function' | 'type'>): number {
  if (reg.function === 1 || reg.function === 2) return 1;
  return reg.type === 'int16' || reg.type === 'uint16' ? 1 : 2;
}

const swapBytes = (w: number): number => ((w & 0xff) << 8) | ((w >> 8) & 0xff);

/** The raw value of 16-bit registers `words` (one or two, as read from the wire) per the register's type and orders. */
export function decodeWords(words: readonly number[], reg: Pick<ModbusRegisterConfig, 'type' | 'byteOrder' | 'wordOrder'>): number {
  const ordered = words.map((w) => (reg.byteOrder === 'little' ? swapBytes(w & 0xffff) : w & 0xffff));
  const buf = Buffer.alloc(4);
  if (reg.type === 'int16' || reg.type === 'uint16') {
    buf.writeUInt16BE(ordered[0]!, 0);
    return reg.type === 'int16' ? buf.readInt16BE(0) : buf.readUInt16BE(0);
  }
  const [first, second] = ordered as [number, number];
  const [hi, lo] = reg.wordOrder === 'big' ? [first, second] : [second, first];
  buf.writeUInt16BE(hi, 0);
  buf.writeUInt16BE(lo, 2);
  if (reg.type === 'int32') return buf.readInt32BE(0);
  if (reg.type === 'uint32') return buf.readUInt32BE(0);
  return buf.readFloatBE(0);
}

/** raw × scale, without the binary noise of the multiplication (215 × 0.1 is forwarded as 21.5). */
export function scaleValue(raw: number, scale: number): number {
  if (scale === 1) return raw;
  return Number((raw * scale).toPrecision(15));
}
