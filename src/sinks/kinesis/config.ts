import { z } from 'zod';
import { credentialsSchema } from '../../aws/config.js';
import { port, positiveInt } from '../../config/primitives.js';
import {
  DEFAULT_LOCAL_HOST,
  DEFAULT_LOCAL_PORT,
  DEFAULT_LOCAL_SHARDS,
  DEFAULT_REGION,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_STREAM_NAME,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_STREAM_NAME_LENGTH,
  STREAM_NAME_PATTERN,
} from './defaults.js';

/** The `kinesis` slice: the Amazon Kinesis Data Streams sink (see docs/concepts/kinesis-delivery.md). */

/** A Kinesis stream name (CreateStream's StreamName pattern). */
export const streamNameSchema = z.string().min(1).max(MAX_STREAM_NAME_LENGTH).regex(STREAM_NAME_PATTERN, 'only letters, digits, "_", "." and "-"');

export const localEmulatorSchema = z
  .object({
    host: z.string().default(DEFAULT_LOCAL_HOST).describe('Address the bundled emulator binds.'),
    port: port.default(DEFAULT_LOCAL_PORT).describe('Port of the bundled emulator.'),
    shards: positiveInt.max(64).default(DEFAULT_LOCAL_SHARDS).describe('Shards of the stream the emulator creates.'),
  })
  .strict();

export const aggregationSchema = z
  .object({
    mode: z
      .enum(['none', 'kpl'])
      .default('none')
      .describe(
        "`none`: one Kinesis record per reading, readable by any consumer. `kpl`: readings of one device packed into KPL aggregated records (de-aggregated by the KCL, aws-kinesis-agg or `tidegate tail`): one Kinesis record counts once toward a shard's 1,000 records/s.",
      ),
    maxBytes: positiveInt
      .min(1024)
      .max(1024 * 1024)
      .default(51_200)
      .describe("Largest aggregated record, in bytes (the KPL's AggregationMaxSize default is 51,200)."),
  })
  .strict();

export const pacingSchema = z
  .object({
    mode: z
      .enum(['auto', 'on', 'off'])
      .default('auto')
      .describe('Per-shard pacing, so a backlog drains at the shard limit instead of in throttling storms. `auto` paces against AWS (any endpoint but the bundled local emulator, which has no shard limits), `on` always, `off` never.'),
    share: z.number().gt(0).max(1).default(0.9).describe("Share of each shard's write limits tidegate may use; leave room for other producers on the stream."),
    recordsPerSecondPerShard: positiveInt.default(1000).describe('Records per second a shard accepts (AWS: 1,000).'),
    bytesPerSecondPerShard: positiveInt.default(1024 * 1024).describe('Bytes per second a shard accepts (AWS: 1 MiB).'),
    shardRefreshMs: positiveInt
      .min(5_000)
      .default(300_000)
      .describe('Milliseconds between two reads of the shard map (ListShards); replies that show a reshard trigger a read sooner.'),
  })
  .strict();

export const kinesisSchema = z
  .object({
    streamName: streamNameSchema.default(DEFAULT_STREAM_NAME).describe('The stream readings go to (unless a route sends them elsewhere). Override: TIDEGATE_KINESIS_STREAM.'),
    region: z.string().min(1).default(DEFAULT_REGION).describe('AWS region of the stream. Override: TIDEGATE_KINESIS_REGION.'),
    endpoint: z
      .union([z.literal('local'), z.url()])
      .optional()
      .describe('`local` starts the bundled emulator (in memory) on kinesis.local; a URL targets any Kinesis-compatible endpoint; unset means Amazon Kinesis in kinesis.region. Override: TIDEGATE_KINESIS_ENDPOINT.'),
    local: localEmulatorSchema.default({ host: DEFAULT_LOCAL_HOST, port: DEFAULT_LOCAL_PORT, shards: DEFAULT_LOCAL_SHARDS }).describe('The bundled emulator, with endpoint: local.'),
    batch: z
      .object({
        // AWS PutRecords limits: 500 entries and 5 MiB (data plus partition keys) per call.
        maxRecords: positiveInt.max(500).default(500).describe('Entries per PutRecords call (AWS limit: 500).'),
        maxBytes: positiveInt
          .max(5 * 1024 * 1024)
          .default(5 * 1024 * 1024)
          .describe('Bytes per PutRecords call, data plus partition keys (AWS limit: 5 MiB).'),
        // 200 ms: at a steady 1,000 readings/s on two splits, calls of ~100 readings instead of ~26 at 50 ms,
        // 10 calls a second instead of 38 and ~2.5 % of a core less (bench/RESULTS.md, Soak). The KPL waits
        // up to 100 ms (RecordMaxBufferedTime); Kinesis consumers poll about once a second anyway.
        maxAgeMs: z.number().int().min(0).max(60_000).default(200).describe('Milliseconds a partly filled call waits for more readings: it leaves when it is full or when its oldest reading has waited this long (alarms never wait). Latency against fewer, fuller calls.'),
      })
      .strict()
      .default({ maxRecords: 500, maxBytes: 5 * 1024 * 1024, maxAgeMs: 200 })
      .describe('When a PutRecords call closes: on count, on bytes, or after waiting for more readings.'),
    retry: z
      .object({
        baseDelayMs: positiveInt.default(100).describe('First backoff after a failed call, in milliseconds.'),
        maxDelayMs: positiveInt.default(30_000).describe('Longest backoff, in milliseconds; also the wait after an error that needs operator action.'),
        probeIntervalMs: positiveInt
          .max(60_000)
          .optional()
          .describe('While a backoff is longer than a few seconds, the stream is probed (DescribeStreamSummary) this often, in milliseconds, and the wait ends when a probe succeeds (unset: 2,000).'),
      })
      .strict()
      .default({ baseDelayMs: 100, maxDelayMs: 30_000 })
      .describe('Jittered exponential backoff between retries of failed calls and entries.'),
    putRecords: z
      .enum(['direct', 'sdk'])
      .default('direct')
      .describe(
        'How the Kinesis calls are made. `direct`: by tidegate itself, signed with SigV4, with the AWS SDK\'s credential chain and endpoint rules; the PutRecords body is written from the encoded records, and no SDK client is loaded: less CPU per reading and less memory (see bench/RESULTS.md). `sdk`: through the AWS SDK client, for comparison.',
      ),
    requestTimeoutMs: positiveInt.max(MAX_REQUEST_TIMEOUT_MS).default(DEFAULT_REQUEST_TIMEOUT_MS).describe('Bound on one Kinesis call, in milliseconds.'),
    concurrency: positiveInt
      .max(16)
      .default(2)
      .describe('PutRecords calls in flight at once. Readings are split among them by device, each split one call at a time, so one device\'s readings stay in order. A second call hides a slow round trip. With pacing, while calls are quick the splits with no call in flight are planned as one call, which carries every open shard (see kinesis-delivery.md, Calls in flight).'),
    aggregation: aggregationSchema.default(() => aggregationSchema.parse({})).describe('Optional KPL aggregation of records that share a partition key.'),
    pacing: pacingSchema.default(() => pacingSchema.parse({})).describe("Per-shard pacing against the shards' write limits (1,000 records/s and 1 MiB/s each)."),
    credentials: credentialsSchema
      .optional()
      .describe('Where the AWS credentials come from; unset means source: chain. Ignored with endpoint: local, which uses fixed emulator credentials.'),
  })
  .strict()
  .describe('The Amazon Kinesis Data Streams sink.');

export type KinesisConfig = z.infer<typeof kinesisSchema>;
