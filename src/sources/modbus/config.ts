import { z } from 'zod';
import { positiveInt } from '../../config/primitives.js';
import { serialLineShape, uniqueLabels } from '../serial/config.js';

/** The `modbus` slice: Modbus RTU buses the gateway polls; the line settings are the serial ports' own. */

export const modbusRegisterSchema = z
  .object({
    name: z.string().min(1).max(128).describe("The value's name in the reading."),
    address: z.number().int().min(0).max(65535).describe('Zero-based address as sent on the wire (register 40001 of the 4xxxx convention is address 0).'),
    function: z
      .union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)])
      .default(3)
      .describe('1 coils, 2 discrete inputs (booleans); 3 holding, 4 input registers (numbers).'),
    type: z
      .enum(['int16', 'uint16', 'int32', 'uint32', 'float32'])
      .default('uint16')
      .describe('Registers 3 and 4 only: 16-bit types read one register, 32-bit types two.'),
    byteOrder: z.enum(['big', 'little']).default('big').describe('Byte order inside each 16-bit register; Modbus itself is big-endian, some devices swap.'),
    wordOrder: z.enum(['big', 'little']).default('big').describe('32-bit types: `big` puts the high word in the first register ("ABCD"), `little` in the second ("CDAB").'),
    scale: z.number().finite().default(1).describe('The value forwarded is the raw value times this (a register holding tenths of a degree: 0.1).'),
    unit: z.string().min(1).max(32).optional().describe('Forwarded next to the value as `<name>.unit`.'),
  })
  .strict();

export const modbusDeviceSchema = z
  .object({
    unitId: z.number().int().min(1).max(247).describe('Modbus slave address, 1-247 (0 is broadcast, which has no reply).'),
    deviceId: z.string().min(1).max(256).describe("The reading's device id (and Kinesis partition key)."),
    intervalMs: positiveInt.min(10).max(86_400_000).default(1000).describe('Milliseconds between two polls of this unit.'),
    timeoutMs: positiveInt
      .min(10)
      .max(60_000)
      .default(500)
      .describe('Milliseconds one request waits for the reply; a timeout is counted (modbus_errors_total{reason="timeout"}) and never stops the other units.'),
    maxBackoffMs: positiveInt
      .max(3_600_000)
      .default(60_000)
      .describe('A unit that keeps failing is polled less often, backing off (jittered, exponential) up to this many milliseconds; the first good reply resets it.'),
    registers: z.array(modbusRegisterSchema).min(1).describe('The registers read at each poll; one poll becomes one reading with all of them.'),
  })
  .strict();

export const modbusBusSchema = z
  .object({
    ...serialLineShape,
    devices: z.array(modbusDeviceSchema).min(1).describe('The units on the bus; requests go one at a time (RS-485 is half duplex).'),
  })
  .strict()
  .refine((b) => new Set(b.devices.map((d) => d.unitId)).size === b.devices.length, { message: 'two devices on one bus share a unitId' });

export const modbusBusesSchema = z
  .array(modbusBusSchema)
  .default([])
  .refine(uniqueLabels, { message: 'two modbus buses have the same name (set modbus[].name)' })
  .describe('Modbus RTU buses polled by the gateway (RS-485 through a USB adapter). See docs/guides/serial-and-modbus.md.');

export type ModbusBusConfig = z.infer<typeof modbusBusSchema>;
export type ModbusDeviceConfig = z.infer<typeof modbusDeviceSchema>;
export type ModbusRegisterConfig = z.infer<typeof modbusRegisterSchema>;
