import { z } from 'zod';
import { positiveInt } from '../../config/primitives.js';
import { serialLabel } from './label.js';

/** The `serial` slice: serial ports carrying lines of readings, and the line settings Modbus buses share. */

/** Jittered exponential backoff between attempts to reopen a serial port that closed, failed or went silent. */
const reopenSchema = z
  .object({
    baseDelayMs: positiveInt.max(600_000).default(500).describe('First wait before reopening, in milliseconds.'),
    maxDelayMs: positiveInt.max(3_600_000).default(30_000).describe('Longest wait between reopen attempts, in milliseconds.'),
  })
  .strict();

/** The line settings of a UART or RS-485 adapter (they must match the device's, or only noise arrives). */
export const serialLineShape = {
  path: z.string().min(1).describe('The device path, e.g. /dev/ttyUSB0, or a stable /dev/serial/by-id/... link that keeps its name when the adapter is replugged.'),
  baudRate: positiveInt.max(4_000_000).default(9600).describe("Line speed in bits per second; must match the device's."),
  dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8).describe('Data bits per character.'),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none').describe('Parity bit.'),
  stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1).describe('Stop bits.'),
  enabled: z.boolean().default(true).describe('false keeps the entry in the file without opening the port.'),
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits, "_", ".", ":" and "-"')
    .optional()
    .describe('Label on metrics and logs; unset: the last part of the path.'),
  reopen: reopenSchema
    .default({ baseDelayMs: 500, maxDelayMs: 30_000 })
    .describe('A port that closed, failed or cannot be opened (adapter unplugged) is retried with jittered exponential backoff.'),
};

export function uniqueLabels(entries: { name?: string | undefined; path: string }[]): boolean {
  return new Set(entries.map(serialLabel)).size === entries.length;
}

export const serialPortSchema = z
  .object({
    ...serialLineShape,
    framing: z
      .enum(['jsonl', 'csv', 'kv'])
      .default('jsonl')
      .describe('How lines are read: `jsonl` one JSON object a line, `csv` comma-separated values, `kv` key=value pairs separated by spaces or commas. CRLF and LF both end a line.'),
    columns: z.array(z.string().min(1)).min(1).optional().describe('csv only: fixed column names (a header line in the stream is then ignored).'),
    headerPrefix: z
      .string()
      .max(8)
      .default('#')
      .describe('csv only: a line starting with this names the columns (device-sim writes `#deviceId,seq,...`); empty: the first line after each open is the header.'),
    deviceId: z.string().min(1).max(256).optional().describe('Every reading of the port belongs to this device (a port with one device on it).'),
    deviceIdField: z.string().min(1).default('deviceId').describe('Without deviceId: the field of each line that names its device.'),
    maxFrameBytes: positiveInt
      .min(16)
      .max(1024 * 1024)
      .default(4096)
      .describe('Longest line kept, in bytes; a longer one (noise, a wrong baud rate) is discarded up to the next newline, counted and dead-lettered (frame_too_large).'),
    maxPendingReadings: positiveInt
      .max(1_000_000)
      .default(10_000)
      .describe("Readings parsed but not yet committed beyond which the port is paused (the UART's buffer and the device then hold the rest) until the commit lands."),
    silenceTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(86_400_000)
      .default(0)
      .describe('No byte for this many milliseconds: the port is closed and reopened (a stuck adapter), counted. 0 turns the watchdog off.'),
  })
  .strict()
  .refine((p) => !(p.deviceId !== undefined && p.deviceIdField !== 'deviceId'), { message: 'set either deviceId (one device on the port) or deviceIdField, not both' });

export const serialPortsSchema = z
  .array(serialPortSchema)
  .default([])
  .refine(uniqueLabels, { message: 'two serial ports have the same name (set serial[].name)' })
  .describe('Serial ports carrying one reading per line (UART, an RS-485 concentrator, a USB adapter). See docs/guides/serial-and-modbus.md.');

export type SerialPortConfig = z.infer<typeof serialPortSchema>;
