import { z } from 'zod';
import { transformEntrySchema } from '../pipeline/registry.js';
import '../pipeline/transforms/index.js';
import { pipelineSchema } from '../pipeline/config.js';
import { alarmsSchema, refineUniqueAlarmRules } from '../analytics/alarms/schema.js';

/**
 * The single source of truth for tidegate's configuration: types, defaults and validation come from here.
 * Objects are strict (unknown keys are errors, as a misspelt key silently ignored is a classic outage).
 */

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

/** TLS on an MQTT listener (MQTT over TLS, conventionally port 8883). Paths are read when the gateway starts. */
export const listenerTlsSchema = z
  .object({
    /** PEM server certificate (with its intermediate certificates after it, if any). */
    certFile: z.string().min(1),
    /** PEM private key of the server certificate. */
    keyFile: z.string().min(1),
    /** PEM CA certificate(s) that client certificates must chain to; required with requireClientCert. */
    caFile: z.string().min(1).optional(),
    /** Mutual TLS: clients must present a certificate signed by caFile, or the handshake fails. */
    requireClientCert: z.boolean().default(false),
    /** Oldest TLS version accepted; TLS 1.0 and 1.1 are never offered. */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** With mutual TLS: the verified client certificate's subject CN is the device id of its readings. */
    identityFromCertificate: z.boolean().default(false),
    /** A connection that has not finished its TLS handshake within this time is closed. */
    handshakeTimeoutMs: positiveInt.max(120_000).default(10_000),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.requireClientCert && !t.caFile) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'requireClientCert: true needs caFile, the CA that signs the device certificates' });
    }
    if (t.identityFromCertificate && !t.requireClientCert) {
      ctx.addIssue({ code: 'custom', path: ['identityFromCertificate'], message: 'identityFromCertificate needs requireClientCert: true (only a verified certificate can name a device)' });
    }
  });

export const listenerSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(1883),
    /**
     * Anonymous clients are accepted on loopback listeners only (the rule mosquitto 2 adopted). A listener
     * on any other address refuses to start unless this is set to true explicitly.
     */
    allowAnonymous: z.boolean().optional(),
    /** Serve MQTT over TLS on this listener. */
    tls: listenerTlsSchema.optional(),
  })
  .strict();

/** An MQTT topic filter that may hold `{username}` / `{clientId}` placeholders (see src/sources/mqtt-broker/acl.ts). */
const aclPattern = z
  .string()
  .min(1)
  .refine((p) => !/\{(?!username\}|clientId\})[^}]*\}/.test(p), { message: 'the only placeholders are {username} and {clientId}' })
  .refine((p) => p.split('/').every((level, i, all) => (level.includes('#') ? level === '#' && i === all.length - 1 : !level.includes('+') || level === '+')), {
    message: 'not an MQTT topic filter: "+" must be a whole level, "#" a whole last level [MQTT-4.7.1]',
  });

const aclRulesSchema = z
  .object({
    /** Topic filters a client may publish to. */
    publish: z.array(aclPattern).optional(),
    /** Topic filters a client may subscribe within (a subscription must lie inside one of them). */
    subscribe: z.array(aclPattern).optional(),
  })
  .strict();

export const mqttAuthSchema = z
  .object({
    /**
     * Users file written by `tidegate passwd` (salted scrypt hashes). When set, every listener requires a
     * username and password except those with `allowAnonymous: true`.
     */
    usersFile: z.string().min(1).optional(),
    /** Rights of authenticated clients; unset lists default to the topic template with {deviceId} = {username}. */
    acl: aclRulesSchema.default({}),
    /** Rights of anonymous clients (loopback, or listeners with allowAnonymous: true); unset lists default to ["#"]. */
    anonymous: aclRulesSchema.default({}),
  })
  .strict();

export const mqttLimitsSchema = z
  .object({
    /** A connection that has not sent a complete CONNECT within this time is closed (slowloris). */
    connectTimeoutMs: positiveInt.max(300_000).default(10_000),
    /** Connections beyond this are closed as soon as they are accepted, counted. */
    maxConnections: positiveInt.max(100_000).default(1_000),
    /** A keepalive of 0 (none) or above this is replaced by this: a silent connection is closed after 1.5 times it. */
    maxKeepaliveSeconds: positiveInt.max(65_535).default(3_600),
    /** Longest accepted topic (publish, subscribe, will), in UTF-8 bytes. */
    maxTopicBytes: positiveInt.max(65_535).default(256),
    /** Most levels in a topic or filter (aedes cannot go beyond 100). */
    maxTopicLevels: positiveInt.max(100).default(32),
    /** Longest accepted client id, in characters. */
    maxClientIdLength: positiveInt.max(65_535).default(128),
    /** Per-client publish rate (token bucket); beyond it, acknowledgements are delayed. Unset: no limit. */
    publishRate: z
      .object({ perSecond: positiveInt.max(1_000_000), burst: positiveInt.max(1_000_000) })
      .strict()
      .optional(),
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
    auth: mqttAuthSchema.default(() => mqttAuthSchema.parse({})),
    limits: mqttLimitsSchema.default(() => mqttLimitsSchema.parse({})),
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
     * about 7 days of 10 readings/s (see docs/concepts/buffer.md).
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

export const aggregationSchema = z
  .object({
    /**
     * `kpl` packs readings of one device into KPL aggregated records (the format the KCL and aws-kinesis-agg
     * de-aggregate): one Kinesis record counts once toward a shard's 1,000 records/s. `none` sends one record
     * per reading, readable by any consumer.
     */
    mode: z.enum(['none', 'kpl']).default('none'),
    /** Largest aggregated record, in bytes (the KPL's AggregationMaxSize default is 51,200). */
    maxBytes: positiveInt.min(1024).max(1024 * 1024).default(51_200),
  })
  .strict();

export const pacingSchema = z
  .object({
    /** Per-shard pacing: `auto` paces against AWS (any endpoint but the bundled local emulator, which has no shard limits). */
    mode: z.enum(['auto', 'on', 'off']).default('auto'),
    /** Share of each shard's write limits tidegate may use (leave room for other producers on the stream). */
    share: z.number().gt(0).max(1).default(0.9),
    /** AWS per-shard write limits: 1,000 records/s and 1 MiB/s. */
    recordsPerSecondPerShard: positiveInt.default(1000),
    bytesPerSecondPerShard: positiveInt.default(1024 * 1024),
    /** How often the shard map (ListShards) is read again; replies that show a reshard trigger a read sooner. */
    shardRefreshMs: positiveInt.min(5_000).default(300_000),
  })
  .strict();

/** The AWS IoT credentials provider: temporary credentials for a role alias, fetched with the device certificate. */
export const iotCredentialsSchema = z
  .object({
    /** The account's credentials-provider host (`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`), optionally `host:port`. */
    endpoint: z.string().min(1).regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name, optionally with :port (no scheme, no path)'),
    /** The IoT role alias that points at the IAM role the gateway assumes. */
    roleAlias: z.string().min(1).max(128).regex(/^[\w=,@-]+$/, 'only letters, digits and "_=,@-"'),
    /** The thing the certificate is attached to (sent as x-amzn-iot-thingname). */
    thingName: z.string().min(1).max(128).regex(/^[a-zA-Z0-9:_-]+$/, 'only letters, digits, ":", "_" and "-"'),
    /** PEM device certificate registered with AWS IoT. */
    certFile: z.string().min(1),
    /** PEM private key of the device certificate. */
    keyFile: z.string().min(1),
    /** PEM CA for the endpoint's server certificate; absent means Node's bundled public CAs (Amazon Root CA included). */
    caFile: z.string().min(1).optional(),
  })
  .strict();

export const credentialsSchema = z
  .object({
    /** `chain`: the standard AWS credential chain (environment, profile/SSO, web identity, ECS/EKS container, EC2 instance role). `iot`: the AWS IoT credentials provider. */
    source: z.enum(['chain', 'iot']).default('chain'),
    iot: iotCredentialsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.source === 'iot' && !c.iot) ctx.addIssue({ code: 'custom', path: ['iot'], message: 'source: iot needs the iot block (endpoint, roleAlias, thingName, certFile, keyFile)' });
    if (c.source === 'chain' && c.iot) ctx.addIssue({ code: 'custom', path: ['source'], message: 'an iot block is set but source is chain, so it would be ignored: set source: iot to use it, or remove the iot block' });
  });

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
        /**
         * While a backoff after a failed call is longer than this, the stream is probed (DescribeStreamSummary)
         * this often, so delivery resumes within seconds of the link returning (absent: 2,000).
         */
        probeIntervalMs: positiveInt.max(60_000).optional(),
      })
      .strict()
      .default({ baseDelayMs: 100, maxDelayMs: 30_000 }),
    requestTimeoutMs: positiveInt.max(300_000).default(15_000),
    /**
     * PutRecords calls in flight at once. Readings are split among them by device, each split one call at a
     * time, so one device's readings stay in order.
     */
    concurrency: positiveInt.max(16).default(2),
    aggregation: aggregationSchema.default(() => aggregationSchema.parse({})),
    pacing: pacingSchema.default(() => pacingSchema.parse({})),
    /** Where the AWS credentials come from; absent means the standard chain (ignored with endpoint: local, which uses fixed emulator credentials). */
    credentials: credentialsSchema.optional(),
  })
  .strict();

const streamName = z.string().min(1).max(128).regex(/^[a-zA-Z0-9_.-]+$/, 'only letters, digits, "_", "." and "-"');

export const routeSchema = z
  .object({
    /** Every condition given must hold; a rule without conditions matches everything. */
    match: z
      .object({
        lane: z.enum(['alarm', 'telemetry']).optional(),
        /** Device id glob: `*` any run of characters, `?` one character. */
        deviceId: z.string().min(1).optional(),
        /** MQTT topic filter on the topic the reading arrived on (`+` one level, `#` the rest). */
        topic: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** Another Kinesis stream, reached with the kinesis.* settings (region, endpoint, pacing, aggregation). */
    kinesis: streamName.optional(),
    /** A Firehose delivery stream, reached with the firehose.* settings. */
    firehose: streamName.max(64).optional(),
  })
  .strict()
  .refine((r) => (r.kinesis === undefined) !== (r.firehose === undefined), { message: 'a route sends to exactly one of `kinesis` or `firehose`' });

export const firehoseSchema = z
  .object({
    /** Region of the delivery streams; defaults to kinesis.region. */
    region: z.string().min(1).optional(),
    /** A Firehose-compatible endpoint URL; absent means AWS's own for the region. */
    endpoint: z.url().optional(),
    /** Firehose writes records to S3 back to back: a newline after each makes the objects JSON lines. */
    appendNewline: z.boolean().default(true),
    batch: z
      .object({
        // PutRecordBatch quotas: 500 records and 4 MiB per call.
        maxRecords: positiveInt.max(500).default(500),
        maxBytes: positiveInt.max(4 * 1024 * 1024).default(4 * 1024 * 1024),
      })
      .strict()
      .default({ maxRecords: 500, maxBytes: 4 * 1024 * 1024 }),
  })
  .strict();

/**
 * An MQTT topic filter as a SUBSCRIBE carries it ([MQTT-4.7.1]): `+` fills a whole level, `#` only the last
 * one; an MQTT 5 shared subscription is `$share/<group>/<filter>`, the group a non-empty level without
 * wildcards ([MQTT5-4.8.2]).
 */
export function topicFilterProblem(filter: string): string | null {
  let levels = filter.split('/');
  if (levels[0] === '$share') {
    if (levels.length < 3) return 'a shared subscription is $share/<group>/<filter>';
    if (levels[1] === '' || /[+#]/.test(levels[1]!)) return 'the share group of $share/<group>/<filter> must be a non-empty name without "+" or "#"';
    levels = levels.slice(2);
  }
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be a whole level and the last one';
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return null;
}

export const siteSubscriptionSchema = z
  .object({
    /** Topic filter, e.g. `devices/#`, or an MQTT 5 shared subscription `$share/<group>/devices/#`. */
    topic: z
      .string()
      .min(1)
      .max(65_535)
      .superRefine((t, ctx) => {
        const problem = topicFilterProblem(t);
        if (problem) ctx.addIssue({ code: 'custom', message: `topic filter "${t}": ${problem}` });
      }),
    /** The maximum QoS the site broker delivers with. QoS 1 and 2 are acknowledged only after the durable commit. */
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  })
  .strict();

export const siteBrokerSchema = z
  .object({
    /** Names the source: its readings count under `source="mqtt_client:<name>"`. */
    name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'only letters, digits, "_" and "-"'),
    /** `mqtt://host:port` or `mqtts://host:port` (TLS). Credentials belong in username/password, not in the URL. */
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^/]+/, 'must start with mqtt:// or mqtts:// followed by a host')
      .refine((u) => URL.canParse(u), { message: 'is not a valid URL' })
      .refine((u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''), {
        message: 'must not carry credentials: set username and password (or its environment override) instead',
      }),
    /**
     * Stable client id. The broker keeps the session (subscriptions and unacknowledged messages) under this
     * id while tidegate is away; every gateway needs its own.
     */
    clientId: z.string().min(1).max(256),
    subscriptions: z.array(siteSubscriptionSchema).min(1),
    /** 4 = MQTT 3.1.1, 5 = MQTT 5 (shared subscriptions need a broker that supports them; mosquitto 2 does for both). */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    /** MQTT 5 only: how long the broker keeps the session after a disconnect (0xFFFFFFFF = forever). */
    sessionExpirySeconds: z.number().int().min(1).max(0xffffffff).default(604_800),
    username: z.string().min(1).optional(),
    /** Also settable as TIDEGATE_SITE_BROKER_<NAME>_PASSWORD; never logged. */
    password: z.string().min(1).optional(),
    tls: z
      .object({
        /** PEM CA bundle to verify the broker with (default: the system's CAs). */
        caFile: z.string().min(1).optional(),
        /** PEM client certificate and key, for brokers that authenticate clients by certificate. */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        /** false accepts any server certificate: for test brokers only. */
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together' })
      .optional(),
    /** How the device id is taken from a message's topic (same syntax as mqtt.topicTemplate). */
    topicTemplate: z
      .string()
      .default('devices/{deviceId}/#')
      .refine((t) => t.split('/').includes('{deviceId}'), { message: 'must contain a {deviceId} level' }),
    /** Larger payloads are dead-lettered as payload_too_large. */
    maxPayloadBytes: positiveInt.max(256 * 1024 * 1024).default(256 * 1024),
    /**
     * Messages being stored at once. When full, tidegate reads nothing more from the connection until one is
     * committed (the broker keeps the rest queued); with MQTT 5 this is also the Receive Maximum it announces.
     */
    maxInFlight: positiveInt.max(65_535).default(1_000),
    /** Bound on the wait for the broker's CONNACK. */
    connectTimeoutMs: positiveInt.max(300_000).default(10_000),
    keepaliveSeconds: z.number().int().min(0).max(65_535).default(30),
    /** Jittered exponential backoff between reconnect attempts. */
    reconnect: z
      .object({
        minDelayMs: positiveInt.max(600_000).default(500),
        maxDelayMs: positiveInt.max(3_600_000).default(30_000),
      })
      .strict()
      .refine((r) => r.minDelayMs <= r.maxDelayMs, { message: 'minDelayMs must not exceed maxDelayMs' })
      .default({ minDelayMs: 500, maxDelayMs: 30_000 }),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.tls && !b.url.startsWith('mqtts://')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need an mqtts:// url' });
    if (b.protocolVersion === 4 && b.subscriptions.some((s) => s.topic.startsWith('$share/'))) {
      // mosquitto accepts $share with 3.1.1 too, but it is an MQTT 5 feature; say so rather than depend on a broker's leniency.
      ctx.addIssue({ code: 'custom', path: ['protocolVersion'], message: 'shared subscriptions ($share/...) are MQTT 5: set protocolVersion: 5' });
    }
  });

/** Names must be unique (each is its own source), and so must the client id per broker (a second connection with the same id takes the session over, [MQTT-3.1.4-2]). */
export const siteBrokersSchema = z
  .array(siteBrokerSchema)
  .default([])
  .superRefine((brokers, ctx) => {
    const names = new Set<string>();
    const sessions = new Set<string>();
    brokers.forEach((b, i) => {
      if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `name "${b.name}" is used twice` });
      names.add(b.name);
      const session = `${b.url}\n${b.clientId}`;
      if (sessions.has(session)) ctx.addIssue({ code: 'custom', path: [i, 'clientId'], message: `clientId "${b.clientId}" is used twice for ${b.url}` });
      sessions.add(session);
    });
  });

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
    /**
     * Readings a rule matches go to its stream instead of kinesis.streamName (the first matching rule wins; one
     * destination per reading). For example alarms to their own stream, or a device group to Firehose.
     */
    routes: z.array(routeSchema).max(32).default([]),
    /** Transforms between decode and the buffer, in order; each entry's keys are its type's own schema slice. */
    transforms: z.array(transformEntrySchema).max(64).superRefine(refineUniqueAlarmRules).default([]),
    pipeline: pipelineSchema.default(() => pipelineSchema.parse({})),
    alarms: alarmsSchema.default(() => alarmsSchema.parse({})),
    firehose: firehoseSchema.default(() => firehoseSchema.parse({})),
    status: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9464),
        /** /healthz reports degraded when the oldest undelivered reading is older than this. */
        maxDeliveryLagMs: positiveInt.default(300_000),
        /** /healthz reports degraded when every delivery call has failed for this long while readings wait (absent: 20,000). */
        failingAfterMs: positiveInt.optional(),
      })
      .strict()
      .default({ enabled: true, host: '127.0.0.1', port: 9464, maxDeliveryLagMs: 300_000 }),
    shutdown: z
      .object({ deadlineMs: positiveInt.max(600_000).default(10_000) })
      .strict()
      .default({ deadlineMs: 10_000 }),
    /** Site brokers tidegate subscribes to as an MQTT client, each its own source (see docs/guides/site-brokers.md). */
    siteBrokers: siteBrokersSchema,
    /** Serial ports carrying lines of readings (UART, RS-485 concentrators, USB adapters). */
    serial: z.array(serialPortSchema).default([]).refine(uniqueLabels, { message: 'two serial ports have the same name (set serial[].name)' }),
    /** Modbus RTU buses polled by the gateway. */
    modbus: z.array(modbusBusSchema).default([]).refine(uniqueLabels, { message: 'two modbus buses have the same name (set modbus[].name)' }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type KinesisConfig = z.infer<typeof kinesisSchema>;
export type ListenerTlsConfig = z.infer<typeof listenerTlsSchema>;
export type IotCredentialsConfig = z.infer<typeof iotCredentialsSchema>;
export type AwsCredentialsConfig = z.infer<typeof credentialsSchema>;
export type MqttAuthConfig = z.infer<typeof mqttAuthSchema>;
export type MqttLimitsConfig = z.infer<typeof mqttLimitsSchema>;
export type SiteBrokerConfig = z.infer<typeof siteBrokerSchema>;
export type SerialPortConfig = z.infer<typeof serialPortSchema>;
export type ModbusBusConfig = z.infer<typeof modbusBusSchema>;
export type ModbusDeviceConfig = z.infer<typeof modbusDeviceSchema>;
export type ModbusRegisterConfig = z.infer<typeof modbusRegisterSchema>;
