import { describe, expect, it } from 'vitest';
import { modbusRegisterSchema } from '../../../src/sources/modbus/config.js';
import { classifyModbusError } from '../../../src/sources/modbus/modbus-link.js';
import { planRequests } from '../../../src/sources/modbus/request-plan.js';
import { decodeWords, scaleValue } from '../../../src/sources/modbus/register-codec.js';

const reg = (doc: Record<string, unknown>) => modbusRegisterSchema.parse({ name: 'v', address: 0, ...doc });
/** The two registers of a 32-bit value as a big-endian device sends them. */
const words32 = (write: (b: Buffer) => void): [number, number] => {
  const b = Buffer.alloc(4);
  write(b);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};

describe('Modbus register decoding', () => {
  it('16-bit values, signed and unsigned, and a byte-swapped register', () => {
    expect(decodeWords([0xff29], reg({ type: 'int16' }))).toBe(-215);
    expect(decodeWords([0xff29], reg({ type: 'uint16' }))).toBe(0xff29);
    expect(decodeWords([0x3412], reg({ type: 'uint16', byteOrder: 'little' }))).toBe(0x1234);
  });

  it('32-bit values in both word orders', () => {
    const [hi, lo] = words32((b) => b.writeInt32BE(-100_000));
    expect(decodeWords([hi, lo], reg({ type: 'int32' }))).toBe(-100_000);
    expect(decodeWords([lo, hi], reg({ type: 'int32', wordOrder: 'little' }))).toBe(-100_000);
    const [uh, ul] = words32((b) => b.writeUInt32BE(3_000_000_000));
    expect(decodeWords([uh, ul], reg({ type: 'uint32' }))).toBe(3_000_000_000);
    expect(decodeWords([ul, uh], reg({ type: 'uint32', wordOrder: 'little' }))).toBe(3_000_000_000);
    const [fh, fl] = words32((b) => b.writeFloatBE(1234.5));
    expect(decodeWords([fh, fl], reg({ type: 'float32' }))).toBe(1234.5);
    expect(decodeWords([fl, fh], reg({ type: 'float32', wordOrder: 'little' }))).toBe(1234.5);
    expect(decodeWords([0x7fc0, 0], reg({ type: 'float32' }))).toBeNaN();
  });

  it('scales without binary noise', () => {
    expect(scaleValue(-215, 0.1)).toBe(-21.5);
    expect(scaleValue(3, 0.1)).toBe(0.3);
    expect(scaleValue(7, 1)).toBe(7);
  });
});

describe('Modbus request plan', () => {
  it('merges adjacent registers of one function and splits at gaps and function changes', () => {
    const registers = [reg({ name: 'a', address: 0, type: 'int16' }), reg({ name: 'b', address: 1, type: 'float32' }), reg({ name: 'c', address: 5 }), reg({ name: 'd', address: 0, function: 4 }), reg({ name: 'e', address: 0, function: 1 }), reg({ name: 'f', address: 1, function: 1 })];
    const plan = planRequests({ registers }).map((r) => ({ fn: r.fn, address: r.address, count: r.count, names: r.values.map((v) => `${v.register.name}@${v.offset}`) }));
    expect(plan).toEqual([
      { fn: 1, address: 0, count: 2, names: ['e@0', 'f@1'] },
      { fn: 3, address: 0, count: 3, names: ['a@0', 'b@1'] },
      { fn: 3, address: 5, count: 1, names: ['c@0'] },
      { fn: 4, address: 0, count: 1, names: ['d@0'] },
    ]);
  });
});

describe('Modbus error classification', () => {
  it('maps modbus-serial failures to stable reasons', () => {
    expect(classifyModbusError(Object.assign(new Error('Timed out'), { name: 'TransactionTimedOutError', errno: 'ETIMEDOUT' })).reason).toBe('timeout');
    expect(classifyModbusError(new Error('CRC error')).reason).toBe('crc');
    expect(classifyModbusError(new Error('Modbus exception 2: Illegal data address (register not supported by device)')).reason).toBe('exception');
    expect(classifyModbusError({ name: 'PortNotOpenError', message: 'Port Not Open' }).reason).toBe('port_closed');
    expect(classifyModbusError(new Error('Data length error, expected 7 got 3')).reason).toBe('invalid_reply');
  });
});
