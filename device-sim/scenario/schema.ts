/**
 * zod schema of a scenario file: the run, the transport, profiles, fleets and
 * faults. The single source of truth for what a scenario may contain; the
 * loader adds the checks that need the whole document (references, unique ids,
 * CSV files). Every CLI flag that overlaps a key here overrides it.
 */
import { z } from 'zod';
import { anomaliesSchema } from './schema-anomalies.js';
import { durationSchema, fieldsSchema, ratioSchema } from './schema-generators.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, "_", "." or "-"');
const fleetFilter = z.array(name).min(1).optional();

const runSchema = z
  .object({
    duration: durationSchema.optional(),
    count: z.number().int().positive().optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    /** Pad every MQTT reading with a "pad" field to this many bytes (benchmarks). */
    payloadBytes: z.number().int().min(0).max(16 * 1024 * 1024).optional(),
    /** Prepended to every device id and client id, e.g. "lab1-". */
    devicePrefix: z.string().optional(),
    drainTimeout: durationSchema.optional(),
  })
  .strict();

const tlsSchema = z
  .object({
    /** PEM files, relative to the scenario file. */
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().optional(),
    servername: z.string().optional(),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'a client certificate needs both cert and key' });

export const mqttTransportSchema = z
  .object({
    url: z.string().min(1).optional(),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
    /** MQTT 3.1.1 (protocol level 4) or 5. */
    version: z.union([z.literal('3.1.1'), z.literal('5'), z.literal(4), z.literal(5)]).optional(),
    /** false: persistent sessions, stable client ids. */
    clean: z.boolean().optional(),
    /** MQTT 5 session expiry for persistent sessions (3.1.1 sessions never expire). */
    sessionExpiry: durationSchema.optional(),
    /** "per-device", or a number of connections shared round-robin by the devices. */
    connections: z.union([z.literal('per-device'), z.number().int().positive()]).optional(),
    /** Topic per device; must contain {deviceId}. */
    topic: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Name of an environment variable holding the password, so it is not written into the file. */
    passwordEnv: z.string().min(1).optional(),
    tls: tlsSchema.optional(),
    maxInflight: z.number().int().min(1).max(65_535).optional(),
    connectTimeout: durationSchema.optional(),
    reconnectPeriod: durationSchema.optional(),
    keepalive: durationSchema.optional(),
  })
  .strict();

export const FRAMINGS = ['jsonl', 'csv', 'kv'] as const;
export type Framing = (typeof FRAMINGS)[number];

export const serialTransportSchema = z
  .object({
    /** A serial device or one end of a pty pair, e.g. /dev/ttyUSB0 or a socat link; --serial PATH overrides it. */
    path: z.string().min(1).optional(),
    baudRate: z.number().int().positive().default(115_200),
    framing: z.enum(FRAMINGS).default('jsonl'),
    lineEnding: z.enum(['lf', 'crlf']).default('lf'),
  })
  .strict();

const transportSchema = z
  .object({ mqtt: mqttTransportSchema.optional(), serial: serialTransportSchema.optional() })
  .strict()
  .refine((t) => !(t.mqtt && t.serial), { message: 'choose one transport: mqtt or serial, not both' });

export const profileSchema = z
  .object({
    description: z.string().optional(),
    /** Start from another profile's fields (built-in or defined here) and add or replace some. */
    extends: z.string().min(1).optional(),
    fields: fieldsSchema.default({}),
  })
  .strict();

export const fleetSchema = z
  .object({
    /** Used by fault filters and in the report; defaults to "fleet-<n>". */
    name: name.optional(),
    /** Device id pattern: {i} or {i:03} (zero-padded index), {profile}. */
    id: z.string().min(1).default('{profile}-{i:04}'),
    count: z.number().int().min(1).max(1_000_000).default(1),
    /** First index for {i}. */
    start: z.number().int().min(0).default(1),
    /** A profile, or a list the devices cycle through by index. */
    profile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Fields added to (or replacing those of) the profile. */
    fields: fieldsSchema.optional(),
    /** Time between two readings of one device... */
    interval: durationSchema.optional(),
    /** ...or readings per second per device. */
    rate: z.number().positive().optional(),
    /** Each reading is sent up to ±jitter × interval from its nominal time (at most 0.5). */
    jitter: ratioSchema.optional(),
  })
  .strict()
  .refine((f) => f.profile !== undefined || (f.fields && Object.keys(f.fields).length > 0), {
    message: 'a fleet needs a profile or fields',
  })
  .refine((f) => f.interval === undefined || f.rate === undefined, { message: 'give interval or rate, not both' });

const burstSchema = z
  .object({
    at: durationSchema.default(0),
    duration: durationSchema,
    /** Rate multiplier while the burst lasts (×10; 0.1 for a lull). */
    factor: z.number().positive().max(10_000),
    every: durationSchema.optional(),
    fleets: fleetFilter,
  })
  .strict();

export const MALFORMED_KINDS = ['invalid_json', 'invalid_utf8', 'not_an_object', 'non_finite_number', 'invalid_ts', 'invalid_seq', 'no_values'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

const disconnectSchema = z
  .object({
    at: durationSchema.default(0),
    every: durationSchema.optional(),
    /** How many storms when `every` is set (default: until the run ends). */
    times: z.number().int().positive().optional(),
    /** Share of the connections dropped at once. */
    fraction: ratioSchema,
  })
  .strict();

export const faultsSchema = z
  .object({
    bursts: z.array(burstSchema).optional(),
    /** Extra publishes that are not valid readings (they carry no seq and are not in the ledger). */
    malformed: z.object({ ratio: ratioSchema, kinds: z.array(z.enum(MALFORMED_KINDS)).min(1).optional(), fleets: fleetFilter }).strict().optional(),
    /** Extra publishes larger than the gateway accepts (its default limit is 256 KiB). */
    oversize: z.object({ ratio: ratioSchema, bytes: z.number().int().min(1).max(64 * 1024 * 1024).default(300_000), fleets: fleetFilter }).strict().optional(),
    /** The same reading (same boot and seq) sent twice. */
    duplicates: z.object({ ratio: ratioSchema, fleets: fleetFilter }).strict().optional(),
    /** Before a reading, the device restarts: new boot id, seq from 1, silent for `downtime`. */
    reboots: z.object({ ratio: ratioSchema, downtime: durationSchema.default(0), fleets: fleetFilter }).strict().optional(),
    /** Device clocks off by up to ±max, drifting by up to ±driftPpm. */
    clockSkew: z.object({ max: durationSchema, driftPpm: z.number().min(0).max(1_000_000).default(0), fleets: fleetFilter }).strict().optional(),
    /** Connections dropped without DISCONNECT; clients reconnect after reconnectPeriod (MQTT only). */
    disconnects: z.array(disconnectSchema).optional(),
    /** Garbage bytes between lines (serial only). */
    noise: z.object({ ratio: ratioSchema, bytes: z.number().int().min(1).max(4096).default(16) }).strict().optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().optional(),
    description: z.string().optional(),
    run: runSchema.optional(),
    transport: transportSchema.optional(),
    profiles: z.record(name, profileSchema).optional(),
    fleets: z.array(fleetSchema).min(1),
    faults: faultsSchema.optional(),
    /** Known deviations for alarm detectors to find; see schema-anomalies.ts. */
    anomalies: anomaliesSchema.optional(),
  })
  .strict();

export type ScenarioDoc = z.output<typeof scenarioSchema>;
export type FleetDoc = z.output<typeof fleetSchema>;
export type FaultsDoc = z.output<typeof faultsSchema>;
export type MqttTransportDoc = z.output<typeof mqttTransportSchema>;
export type SerialTransportDoc = z.output<typeof serialTransportSchema>;
export type ProfileDoc = z.output<typeof profileSchema>;
