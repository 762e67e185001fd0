import { SerialPort } from 'serialport';

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), sent low byte first (Modbus over Serial Line v1.02, 2.5.1.2). */
export function crc16Modbus(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export interface SimulatedUnit {
  /** Holding (3) and input (4) registers by address, 16-bit each. */
  holding?: Record<number, number>;
  input?: Record<number, number>;
  /** Coils (1) and discrete inputs (2) by address. */
  coils?: Record<number, boolean>;
  discrete?: Record<number, boolean>;
  /** Never answers (a unit that is off or has a wrong address). */
  silent?: boolean;
  /** Answers with a wrong CRC. */
  corruptCrc?: boolean;
}

/**
 * A Modbus RTU slave bus on one end of a pty pair: it reads 8-byte read requests (functions 1-4), and answers
 * for each unit it simulates from its register map; an unmapped address gets exception 2 (illegal data address).
 */
export class RtuDeviceBus {
  readonly requests: { unitId: number; fn: number; address: number; count: number }[] = [];
  private buffer = Buffer.alloc(0);

  private constructor(
    private readonly port: SerialPort,
    readonly units: Map<number, SimulatedUnit>,
  ) {
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', () => undefined);
  }

  static async open(ttyPath: string, units: Record<number, SimulatedUnit>): Promise<RtuDeviceBus> {
    const port = new SerialPort({ path: ttyPath, baudRate: 19_200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return new RtuDeviceBus(port, new Map(Object.entries(units).map(([k, v]) => [Number(k), v])));
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 8) {
      const frame = this.buffer.subarray(0, 8);
      if (crc16Modbus(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) {
        this.buffer = this.buffer.subarray(1); // resynchronise on the next byte
        continue;
      }
      this.buffer = this.buffer.subarray(8);
      this.answer(frame[0]!, frame[1]!, frame.readUInt16BE(2), frame.readUInt16BE(4));
    }
  }

  private answer(unitId: number, fn: number, address: number, count: number): void {
    this.requests.push({ unitId, fn, address, count });
    const unit = this.units.get(unitId);
    if (!unit || unit.silent) return;
    let body: Buffer;
    if (fn === 3 || fn === 4) {
      const map = (fn === 3 ? unit.holding : unit.input) ?? {};
      const words: number[] = [];
      for (let a = address; a < address + count; a++) {
        if (map[a] === undefined) return this.send(unit, Buffer.from([unitId, fn | 0x80, 0x02]));
        words.push(map[a]!);
      }
      body = Buffer.alloc(3 + 2 * count);
      body.writeUInt8(unitId, 0);
      body.writeUInt8(fn, 1);
      body.writeUInt8(2 * count, 2);
      words.forEach((w, i) => body.writeUInt16BE(w & 0xffff, 3 + 2 * i));
    } else if (fn === 1 || fn === 2) {
      const map = (fn === 1 ? unit.coils : unit.discrete) ?? {};
      const bytes = Math.ceil(count / 8);
      body = Buffer.alloc(3 + bytes);
      body.writeUInt8(unitId, 0);
      body.writeUInt8(fn, 1);
      body.writeUInt8(bytes, 2);
      for (let i = 0; i < count; i++) {
        const v = map[address + i];
        if (v === undefined) return this.send(unit, Buffer.from([unitId, fn | 0x80, 0x02]));
        if (v) body[3 + (i >> 3)]! |= 1 << (i & 7);
      }
    } else {
      return this.send(unit, Buffer.from([unitId, fn | 0x80, 0x01]));
    }
    this.send(unit, body);
  }

  private send(unit: SimulatedUnit, body: Buffer): void {
    const frame = Buffer.alloc(body.length + 2);
    body.copy(frame);
    frame.writeUInt16LE(crc16Modbus(body) ^ (unit.corruptCrc ? 0x5a5a : 0), body.length);
    this.port.write(frame);
  }
}
