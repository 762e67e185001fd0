import modbusSerial from 'modbus-serial';
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import type { SerialLineSettings } from '../serial/serialport-link.js';

/**
 * The one file that touches `modbus-serial`: a Modbus RTU master on a serial path, as one async call per read
 * with its failure classified by a stable reason. modbus-serial reports failures as errors with a `name`
 * (TransactionTimedOutError, PortNotOpenError) or a bare message ("CRC error", "Modbus exception N: ...").
 */
// modbus-serial is CommonJS: under Node's ESM interop its default export is `module.exports`, the client class
// itself, while its typings describe an ES default; the cast bridges the two.
const ModbusRTU = modbusSerial as unknown as typeof ModbusClient;

export type ModbusFunction = 1 | 2 | 3 | 4;
export type ModbusFailure = 'timeout' | 'crc' | 'exception' | 'port_closed' | 'invalid_reply';

export class ModbusRequestError extends Error {
  constructor(
    readonly reason: ModbusFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ModbusRequestError';
  }
}

export interface ModbusLink {
  /** Registers as 16-bit numbers (functions 3, 4) or bits as booleans (functions 1, 2). */
  read(unitId: number, fn: ModbusFunction, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]>;
  /** Called once when the port closes or fails under us. */
  onLost(listener: (err?: Error) => void): void;
  close(): Promise<void>;
}

export type OpenModbusLink = (settings: SerialLineSettings) => Promise<ModbusLink>;

export function classifyModbusError(err: unknown): ModbusRequestError {
  const e = err as { name?: string; message?: string; errno?: string };
  const message = e?.message ?? String(err);
  if (e?.name === 'TransactionTimedOutError' || e?.errno === 'ETIMEDOUT') return new ModbusRequestError('timeout', 'no reply within the timeout');
  if (e?.name === 'PortNotOpenError' || e?.errno === 'ECONNREFUSED') return new ModbusRequestError('port_closed', 'the bus port is not open');
  if (/CRC error/i.test(message)) return new ModbusRequestError('crc', 'reply failed its CRC check (line noise, or two devices answering at once)');
  if (/^Modbus exception/.test(message)) return new ModbusRequestError('exception', message);
  return new ModbusRequestError('invalid_reply', message);
}

/** Opens the bus with modbus-serial's buffered RTU port, which reassembles a reply split over several reads. */
export const openModbusSerial: OpenModbusLink = async (settings) => {
  const client = new ModbusRTU();
  await client.connectRTUBuffered(settings.path, { baudRate: settings.baudRate, dataBits: settings.dataBits, parity: settings.parity, stopBits: settings.stopBits });
  return new ModbusSerialLink(client);
};

class ModbusSerialLink implements ModbusLink {
  private lost: ((err?: Error) => void) | undefined;
  private done = false;

  constructor(private readonly client: ModbusClient) {
    client.on('close', () => this.report());
    client.on('error', (err: unknown) => this.report(err as Error));
  }

  async read(unitId: number, fn: ModbusFunction, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]> {
    if (this.done || !this.client.isOpen) throw new ModbusRequestError('port_closed', 'the bus port is not open');
    this.client.setID(unitId);
    this.client.setTimeout(timeoutMs);
    try {
      switch (fn) {
        case 1:
          return (await this.client.readCoils(address, count)).data.slice(0, count);
        case 2:
          return (await this.client.readDiscreteInputs(address, count)).data.slice(0, count);
        case 3:
          return (await this.client.readHoldingRegisters(address, count)).data;
        case 4:
          return (await this.client.readInputRegisters(address, count)).data;
      }
    } catch (err) {
      throw classifyModbusError(err);
    }
  }

  onLost(listener: (err?: Error) => void): void {
    this.lost = listener;
  }

  close(): Promise<void> {
    this.done = true;
    return new Promise((resolve) => {
      if (!this.client.isOpen) return resolve();
      this.client.close(() => resolve());
    });
  }

  private report(err?: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.client.isOpen) this.client.close(() => undefined);
    this.lost?.(err);
  }
}
