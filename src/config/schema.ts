import { z } from 'zod';

/**
 * The single source of truth for tidegate's configuration: types, defaults and validation come from here.
 * Objects are strict (unknown keys are errors, as a misspelt key silently ignored is a classic outage).
 */

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

export const listenerSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(1883),
    /**
     * Anonymous clients are accepted on loopback listeners only (the rule mosquitto 2 adopted). A listener
     * on any other address refuses to start unless this is set to true explicitly.
     */
    allowAnonymous: z.boolean().optional(),
  })
  .strict();

export const mqttSchema = z
  .object({
    listeners: z.array(listenerSchema).min(1).default([{ host: '127.0.0.1', port: 1883 }]),
    /** Topic template; `{deviceId}` captures one level, a trailing `#` accepts any further levels. */
    topicTemplate: z
      .string()
      .default('devices/{deviceId}/#')
      .refine((t) => t.split('/').includes('{deviceId}'), { message: 'must contain a {deviceId} level' }),
    /** Largest accepted payload; larger PUBLISH packets are refused before they are buffered. */
    maxPayloadBytes: positiveInt.max(256 * 1024 * 1024).default(256 * 1024),
  })
  .strict();

export const bufferSchema = z
  .object({
    /** `fsync`: every group commit is synced to disk before acks go out. `os`: the OS decides (power loss can lose acknowledged readings). */
    durability: z.enum(['fsync', 'os']).default('fsync'),
    /** Minimum time between two group commits; readings arriving meanwhile share one write and one fsync. */
    commitIntervalMs: z.number().int().min(0).max(10_000).default(10),
    /** Largest number of readings in one group commit. */
    maxCommitRecords: positiveInt.max(100_000).default(2_000),
    /** A commit that takes longer (a stalled disk) is given up: its readings are not acknowledged, and devices retransmit. */
    commitTimeoutMs: positiveInt.max(600_000).default(30_000),
    /**
     * Budget for buffered readings, in bytes as stored (key plus value, ~330 B for a 200 B reading). 2 GiB holds
     * about 7 days of 10 readings/s (see the README).
     */
    maxBytes: positiveInt.min(1024 * 1024).default(2 * 1024 * 1024 * 1024),
    /** When the budget is reached: `block` stops acknowledging (devices keep their data), or drop the oldest or the newest readings, counted. */
    whenFull: z.enum(['block', 'drop_oldest', 'drop_newest']).default('block'),
    /** Readings older than this are dropped and counted as `expired`; unset keeps them until delivered or the budget needs room. */
    maxAgeMs: positiveInt.optional(),
  })
  .strict();

export const localEmulatorSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: port.default(4567),
    shards: positiveInt.max(64).default(2),
  })
  .strict();

export const kinesisSchema = z
  .object({
    streamName: z.string().min(1).max(128).regex(/^[a-zA-Z0-9_.-]+$/, 'only letters, digits, "_", "." and "-"').default('tidegate-telemetry'),
    region: z.string().min(1).default('us-east-1'),
    /** `local` starts the bundled emulator; a URL targets any Kinesis-compatible endpoint; absent means AWS. */
    endpoint: z.union([z.literal('local'), z.url()]).optional(),
    local: localEmulatorSchema.default({ host: '127.0.0.1', port: 4567, shards: 2 }),
    batch: z
      .object({
        // AWS PutRecords limits: 500 entries and 5 MiB (data plus partition keys) per call.
        maxRecords: positiveInt.max(500).default(500),
        maxBytes: positiveInt.max(5 * 1024 * 1024).default(5 * 1024 * 1024),
        /** How long a partly filled batch may wait for more readings. */
        maxAgeMs: z.number().int().min(0).max(60_000).default(50),
      })
      .strict()
      .default({ maxRecords: 500, maxBytes: 5 * 1024 * 1024, maxAgeMs: 50 }),
    retry: z
      .object({
        baseDelayMs: positiveInt.default(100),
        maxDelayMs: positiveInt.default(30_000),
      })
      .strict()
      .default({ baseDelayMs: 100, maxDelayMs: 30_000 }),
    requestTimeoutMs: positiveInt.max(300_000).default(15_000),
    /**
     * PutRecords calls in flight at once. Readings are split among them by device, each split one call at a
     * time, so one device's readings stay in order.
     */
    concurrency: positiveInt.max(16).default(2),
  })
  .strict();

/** Jittered exponential backoff between attempts to reopen a serial port that closed, failed or went silent. */
const reopenSchema = z
  .object({
    baseDelayMs: positiveInt.max(600_000).default(500),
    maxDelayMs: positiveInt.max(3_600_000).default(30_000),
  })
  .strict();

/** The line settings of a UART or RS-485 adapter (they must match the device's, or only noise arrives). */
const serialLineShape = {
  /** The device path, e.g. /dev/ttyUSB0, or a stable /dev/serial/by-id/... link that survives replugging. */
  path: z.string().min(1),
  baudRate: positiveInt.max(4_000_000).default(9600),
  dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
  stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
  /** `false` keeps the entry in the file without opening the port. */
  enabled: z.boolean().default(true),
  /** Label on metrics and logs; defaults to the last part of the path. */
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits, "_", ".", ":" and "-"').optional(),
  reopen: reopenSchema.default({ baseDelayMs: 500, maxDelayMs: 30_000 }),
};

/** A port's or bus's label on metrics and logs: its name, or the last part of its path. */
export function serialLabel(entry: { name?: string | undefined; path: string }): string {
  return entry.name ?? entry.path.split('/').filter(Boolean).pop() ?? entry.path;
}

function uniqueLabels(entries: { name?: string | undefined; path: string }[]): boolean {
  return new Set(entries.map(serialLabel)).size === entries.length;
}

export const serialPortSchema = z
  .object({
    ...serialLineShape,
    /** How lines are read: `jsonl` one JSON object a line, `csv` comma-separated values, `kv` key=value pairs separated by spaces or commas. */
    framing: z.enum(['jsonl', 'csv', 'kv']).default('jsonl'),
    /** csv: fixed column names; without them, a line starting with `headerPrefix` names the columns. */
    columns: z.array(z.string().min(1)).min(1).optional(),
    /** csv: a line starting with this names the columns (device-sim writes `#deviceId,seq,...`); empty: the first line after each open is the header. */
    headerPrefix: z.string().max(8).default('#'),
    /** Every reading of the port belongs to this device (a port with one device on it). */
    deviceId: z.string().min(1).max(256).optional(),
    /** Without `deviceId`: the field of each line that names its device. */
    deviceIdField: z.string().min(1).default('deviceId'),
    /** Longest line kept; longer lines are discarded up to the next newline, counted and dead-lettered (`frame_too_large`). */
    maxFrameBytes: positiveInt.min(16).max(1024 * 1024).default(4096),
    /** Readings parsed but not yet committed; beyond this the port is paused (the UART's own buffer then fills) until the commit lands. */
    maxPendingReadings: positiveInt.max(1_000_000).default(10_000),
    /** No byte for this long: the port is closed and reopened (a stuck adapter), counted. 0 turns the watchdog off. */
    silenceTimeoutMs: z.number().int().min(0).max(86_400_000).default(0),
  })
  .strict()
  .refine((p) => !(p.deviceId !== undefined && p.deviceIdField !== 'deviceId'), { message: 'set either deviceId (one device on the port) or deviceIdField, not both' });

export const modbusRegisterSchema = z
  .object({
    /** The value's name in the reading. */
    name: z.string().min(1).max(128),
    /** Zero-based address as sent on the wire (register 40001 of the 4xxxx convention is address 0). */
    address: z.number().int().min(0).max(65535),
    /** 1 coils, 2 discrete inputs (booleans); 3 holding, 4 input registers (numbers). */
    function: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).default(3),
    /** Registers 3 and 4 only: 16-bit types read one register, 32-bit types two. */
    type: z.enum(['int16', 'uint16', 'int32', 'uint32', 'float32']).default('uint16'),
    /** Byte order inside each 16-bit register; Modbus itself is big-endian. */
    byteOrder: z.enum(['big', 'little']).default('big'),
    /** 32-bit types: `big` puts the high word in the first register, `little` (word swap, "CDAB") in the second. */
    wordOrder: z.enum(['big', 'little']).default('big'),
    /** The value forwarded is the raw value times this. */
    scale: z.number().finite().default(1),
    /** Forwarded next to the value as `<name>.unit`. */
    unit: z.string().min(1).max(32).optional(),
  })
  .strict();

export const modbusDeviceSchema = z
  .object({
    /** Modbus slave address: 1-247 (0 is broadcast, which has no reply). */
    unitId: z.number().int().min(1).max(247),
    /** The reading's device id (and Kinesis partition key). */
    deviceId: z.string().min(1).max(256),
    /** Time between two polls of this unit. */
    intervalMs: positiveInt.min(10).max(86_400_000).default(1000),
    /** How long one request waits for the reply. */
    timeoutMs: positiveInt.min(10).max(60_000).default(500),
    /** A unit that keeps failing is polled less often (jittered exponential backoff up to this); the first good reply resets it. */
    maxBackoffMs: positiveInt.max(3_600_000).default(60_000),
    registers: z.array(modbusRegisterSchema).min(1),
  })
  .strict();

export const modbusBusSchema = z
  .object({
    ...serialLineShape,
    devices: z.array(modbusDeviceSchema).min(1),
  })
  .strict()
  .refine((b) => new Set(b.devices.map((d) => d.unitId)).size === b.devices.length, { message: 'two devices on one bus share a unitId' });

export const configSchema = z
  .object({
    /** Prefix of every record id; must be unique among the gateways that write to one stream. */
    gatewayId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits, "_", ".", ":" and "-"')
      .default('tidegate'),
    dataDir: z.string().min(1).default('./data'),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
      .strict()
      .default({ level: 'info' }),
    mqtt: mqttSchema.default(() => mqttSchema.parse({})),
    buffer: bufferSchema.default(() => bufferSchema.parse({})),
    kinesis: kinesisSchema.default(() => kinesisSchema.parse({})),
    status: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9464),
        /** /healthz reports degraded when the oldest undelivered reading is older than this. */
        maxDeliveryLagMs: positiveInt.default(300_000),
      })
      .strict()
      .default({ enabled: true, host: '127.0.0.1', port: 9464, maxDeliveryLagMs: 300_000 }),
    shutdown: z
      .object({ deadlineMs: positiveInt.max(600_000).default(10_000) })
      .strict()
      .default({ deadlineMs: 10_000 }),
    /** Serial ports carrying lines of readings (UART, RS-485 concentrators, USB adapters). */
    serial: z.array(serialPortSchema).default([]).refine(uniqueLabels, { message: 'two serial ports have the same name (set serial[].name)' }),
    /** Modbus RTU buses polled by the gateway. */
    modbus: z.array(modbusBusSchema).default([]).refine(uniqueLabels, { message: 'two modbus buses have the same name (set modbus[].name)' }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type KinesisConfig = z.infer<typeof kinesisSchema>;
export type SerialPortConfig = z.infer<typeof serialPortSchema>;
export type ModbusBusConfig = z.infer<typeof modbusBusSchema>;
export type ModbusDeviceConfig = z.infer<typeof modbusDeviceSchema>;
export type ModbusRegisterConfig = z.infer<typeof modbusRegisterSchema>;
