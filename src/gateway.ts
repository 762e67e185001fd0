import { Admission } from './admission.js';
import { loadTransformChain } from './pipeline/load-chain.js';
import { ruleStats } from './analytics/rules/rule-stats.js';
import { TransformTicker } from './pipeline/transform-ticker.js';
import { credentialsFromConfig, defaultCredentialChain } from './aws/credentials.js';
import type { Config } from './config/schema.js';
import { describeError } from './core/errors.js';
import { systemClock } from './core/clock.js';
import type { Component } from './core/lifecycle.js';
import type { Logger } from './core/logger.js';
import { Metrics } from './core/metrics.js';
import { ensureStream, type StreamAdmin } from './kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalEmulator, type LocalEmulator } from './kinesis-local/emulator.js';
import { compileTopicTemplate } from './normalize/topic-map.js';
import { createControlHandler } from './control/handler.js';
import { controlSocketPath } from './control/protocol.js';
import { ControlServer } from './control/server.js';
import { conservationGap } from './buffer/conservation.js';
import { DeviceActivity } from './telemetry/device-activity.js';
import { PrometheusExporter } from './telemetry/prometheus.js';
import { StatusServer } from './telemetry/status-server.js';
import { HealthModel, type GatewayHealth } from './telemetry/health.js';
import { listDeadLetters } from './buffer/dead-letters.js';
import { LevelBuffer } from './buffer/level-buffer.js';
import { KINESIS_MAX_RECORD_BYTES, KINESIS_SINK_ID } from './sinks/kinesis/limits.js';
import { awsKinesisEndpoint, signingRegionOf } from './sinks/kinesis/aws-endpoint.js';
import { LeanKinesisPort } from './sinks/kinesis/lean-put-port.js';
import type { KinesisPort } from './sinks/kinesis/port.js';
import { KinesisSink, type SinkRoute } from './sinks/kinesis/sink.js';
import { compileRouteMatch } from './sinks/kinesis/routes.js';
import type { SdkFirehosePort } from './sinks/firehose/sdk-port.js';
import { FIREHOSE_MAX_RECORD_BYTES } from './sinks/firehose/limits.js';
import { ShardPacer } from './sinks/kinesis/shard-pacer.js';
import type { Aggregation } from './sinks/kinesis/plan-call.js';
import { ClockSkewReporter } from './sinks/kinesis/clock-skew.js';
import { MqttBrokerSource } from './sources/mqtt-broker/source.js';
import type { MqttClientSource } from './sources/mqtt-client/source.js';
import { AlarmService } from './analytics/alarms/alarm-service.js';
import { AlarmBrokerNotifier } from './analytics/alarms/broker-notifier.js';
import { AlarmWebhookDelivery } from './analytics/alarms/webhook-delivery.js';


/** A started component and how to stop it, kept in start order so shutdown runs in reverse. */
interface Running {
  id: string;
  stop(deadline: AbortSignal): Promise<void>;
}

/** How long one read of the oldest undelivered reading answers health asks (see oldestUndelivered). */
const OLDEST_READ_MS = 500;

/**
 * The composition root: builds every component from the validated config, starts them
 * buffer → emulator → sink → source (listeners last), and stops them in reverse through one path.
 */
export class Gateway {
  readonly metrics = new Metrics();
  private readonly running: Running[] = [];
  private store!: LevelBuffer;
  private sink!: KinesisSink;
  private source!: MqttBrokerSource;
  /** The alarm rules (detect transforms), for operators and the local notification. */
  private alarms: AlarmService | null = null;
  /** The pipeline's entry, once built: dead letters replayed through the control socket go through it. */
  private admission: Admission | null = null;
  /** The configured rules, for the dashboard's rules card. */
  private ruleNames: string[] = [];
  private readonly siteSources: MqttClientSource[] = [];
  private webhook: AlarmWebhookDelivery | null = null;
  private emulator: LocalEmulator | null = null;
  /** The client of the bundled emulator, which creates the streams routes name. */
  private localStreams: StreamAdmin | null = null;
  /** The credentials the AWS clients use when not the standard chain (the AWS IoT credentials provider). */
  private awsCredentials: Awaited<ReturnType<typeof credentialsFromConfig>> = undefined;
  private statsTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private healthModel!: HealthModel;
  /** The age of the oldest undelivered reading as last read from the buffer (every health check reads it anew). */
  private oldestUndeliveredAgeMs: number | null = null;
  /** The last read of the oldest undelivered reading, shared by health asks within OLDEST_READ_MS. */
  private oldestRead: { at: number; value: Promise<number | null> } | null = null;
  private statusServer: StatusServer | null = null;
  private exporter!: PrometheusExporter;
  private readonly activity = new DeviceActivity();
  private started = false;
  private stopped: Promise<void> | null = null;
  /** Aborted when shutdown begins: components' background loops end on it. */
  private readonly stopping = new AbortController();

  private constructor(
    readonly config: Config,
    private readonly logger: Logger,
  ) {}

  static async start(config: Config, logger: Logger): Promise<Gateway> {
    const gateway = new Gateway(config, logger);
    try {
      await gateway.startAll();
    } catch (err) {
      await gateway.stop(AbortSignal.timeout(config.shutdown.deadlineMs));
      throw err;
    }
    return gateway;
  }

  /** Where MQTT clients can connect (ports resolved). */
  get mqttAddresses(): ReadonlyArray<{ host: string; port: number }> {
    return this.source.addresses;
  }

  get kinesisEndpoint(): string | undefined {
    return this.emulator?.endpoint ?? this.config.kinesis.endpoint;
  }

  bufferStats() {
    return this.store.stats();
  }

  /** The oldest dead letters, for operators and tests. */
  readDeadLetters(max: number) {
    return listDeadLetters(this.store, { limit: max });
  }

  /** The store, for the operator tools served over the control socket. */
  get buffer(): LevelBuffer {
    return this.store;
  }

  /** Health as of the last read of the oldest undelivered reading (progressHealth reads it first). */
  health(): GatewayHealth {
    return this.healthModel.evaluate({
      buffer: this.store.stats(),
      waitingForSpace: this.store.waitingForSpace,
      oldestUndeliveredAgeMs: this.oldestUndeliveredAgeMs,
      delivery: this.sink ? this.sink.deliveryState() : [],
      other: [...this.siteSources.flatMap((site) => site.health().reasons), ...(this.webhook?.health().reasons ?? [])],
    });
  }

  /** The one shutdown path, for signals and failed starts alike. Safe to call more than once. */
  stop(deadline: AbortSignal): Promise<void> {
    this.stopped ??= this.stopAll(deadline);
    return this.stopped;
  }

  private async startAll(): Promise<void> {
    const { config, logger, metrics } = this;
    const log = (id: string): Logger => logger.child({ component: id });
    const webhook = config.alarms.notify.webhook;
    // Created up front (at 0) so a dashboard sees the series before the first drop.
    const outboxDropped = webhook ? metrics.counter('alarm_webhook_outbox_dropped_total') : null;
    this.healthModel = new HealthModel({ failingAfterMs: config.status.failingAfterMs ?? 20_000, maxDeliveryLagMs: config.status.maxDeliveryLagMs, logger: log('health') });

    this.store = new LevelBuffer({
      dir: config.dataDir,
      gatewayId: config.gatewayId,
      durability: config.buffer.durability,
      commitIntervalMs: config.buffer.commitIntervalMs,
      maxCommitRecords: config.buffer.maxCommitRecords,
      commitTimeoutMs: config.buffer.commitTimeoutMs,
      maxBytes: config.buffer.maxBytes,
      whenFull: config.buffer.whenFull,
      ...(config.buffer.maxAgeMs !== undefined ? { maxAgeMs: config.buffer.maxAgeMs } : {}),
      logger: logger.child({ component: 'buffer' }),
      sinkIds: [KINESIS_SINK_ID],
      ...(webhook ? { outbox: { maxEntries: webhook.maxOutbox, select: (r) => r.kind === 'alarm', onDropped: (n) => outboxDropped?.inc(n) } } : {}),
    });
    await this.store.open();
    this.running.push({ id: 'buffer', stop: () => this.store.close() });
    const stats = this.store.stats();
    if (stats.degraded) metrics.inc('buffer_quarantined_total');
    logger.info(
      { dataDir: config.dataDir, durability: config.buffer.durability, buffered: stats.buffered, bufferedBytes: stats.bufferedBytes, maxBytes: stats.maxBytes, whenFull: stats.whenFull, deadLettersStored: stats.deadLettersStored },
      'buffer open',
    );

    const decode = { matchTopic: compileTopicTemplate(config.mqtt.topicTemplate), maxPayloadBytes: config.mqtt.maxPayloadBytes };
    const handler = createControlHandler({
      buffer: this.store,
      gatewayId: config.gatewayId,
      dataDir: config.dataDir,
      decode,
      running: true,
      health: () => this.progressHealth(),
      startedAt: Date.now(),
      alarms: () => this.alarms,
      // Set once the pipeline is built (after the control socket, which answers from the start).
      replayPipeline: () => this.admission,
    });
    await this.startComponent(new ControlServer(controlSocketPath(config.dataDir), handler, log('control')));

    const port = await this.kinesisPort();
    this.running.push({ id: 'kinesis-client', stop: async () => port.close() });

    this.exporter = new PrometheusExporter(metrics, () => this.store.stats());
    const exporter = this.exporter;
    const stream = this.kinesisDestinationSettings();
    const routes = await this.routes(port);
    const clock = new ClockSkewReporter(() => port.clockOffsetMs(), log('kinesis'), metrics);
    this.running.push({ id: 'clock-skew', stop: async () => clock.stop() });
    clock.start();
    this.sink = new KinesisSink({
      id: KINESIS_SINK_ID,
      aggregation: stream.aggregation,
      pacer: stream.pacer(),
      shardRefreshMs: stream.shardRefreshMs,
      learnRecordLimit: stream.learnRecordLimit,
      routes,
      streamName: config.kinesis.streamName,
      limits: stream.limits,
      maxAgeMs: config.kinesis.batch.maxAgeMs,
      retry: config.kinesis.retry,
      requestTimeoutMs: config.kinesis.requestTimeoutMs,
      concurrency: config.kinesis.concurrency,
      onCall: (seconds, outcome) => exporter.putRecordsSeconds.observe({ outcome }, seconds),
      buffer: this.store,
      port,
      logger: log('kinesis'),
      metrics,
    });
    await this.startComponent(this.sink);

    const transformCtx = { clock: systemClock, logger: log('transforms'), metrics };
    const { chain, ruleNames } = await loadTransformChain(config, transformCtx);
    this.ruleNames = ruleNames;
    const admission = new Admission(this.store, decode, metrics, log('admission'), this.activity, chain);
    this.admission = admission;
    // Stopped after every source (the list stops in reverse): the warnings' "N similar suppressed" summaries
    // then cover everything the sources admitted.
    this.running.push({ id: 'admission-warnings', stop: async () => admission.flushWarnings() });
    this.alarms = new AlarmService(chain.allStages, admission, transformCtx);
    const state = await admission.restoreTransformState();
    if (state.restored > 0 || state.orphaned > 0) log('transforms').info(state, 'transform state restored from the buffer');
    if (state.orphaned > 0) log('transforms').warn({ orphaned: state.orphaned }, 'the buffer holds state of transforms that are no longer configured; it is kept but unused');
    await this.startComponent(new TransformTicker(admission, config.pipeline));
    this.source = new MqttBrokerSource({
      listeners: config.mqtt.listeners,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      auth: config.mqtt.auth,
      limits: config.mqtt.limits,
      topicTemplate: config.mqtt.topicTemplate,
      admission,
      logger: log('mqtt_broker'),
      metrics,
    });
    await this.startComponent(this.source);
    if (config.alarms.notify.enabled && this.alarms.ruleNames.length > 0) await this.startComponent(new AlarmBrokerNotifier(this.alarms, this.source, admission, config.alarms.notify));
    // Started whenever a webhook is configured, rules or not: the outbox may hold what an earlier config left.
    if (webhook) {
      this.webhook = new AlarmWebhookDelivery(this.store, webhook);
      await this.startComponent(this.webhook);
    }

    // Site brokers after the embedded broker, so they stop before it; each is its own source.
    // The optional inputs load only when configured: each brings a library (mqtt, serialport and its native
    // binding, modbus-serial) the gateway would otherwise keep resident for nothing (issue "Pi-class efficiency").
    if (config.siteBrokers.length > 0) {
      const { MqttClientSource } = await import('./sources/mqtt-client/source.js');
      for (const site of config.siteBrokers) {
        const siteSource = new MqttClientSource({ config: site, admission, logger: log(`mqtt_client:${site.name}`), metrics });
        this.siteSources.push(siteSource);
        await this.startComponent(siteSource);
      }
    }
    // Serial ports start after the broker so they stop before it; a port that cannot open yet is retried, not fatal.
    const serialPorts = config.serial.filter((port) => port.enabled);
    if (serialPorts.length > 0) {
      const { SerialPortSource } = await import('./sources/serial/source.js');
      for (const port of serialPorts) await this.startComponent(new SerialPortSource({ port, admission, metrics, logger: log('serial') }));
    }
    const modbusBuses = config.modbus.filter((bus) => bus.enabled);
    if (modbusBuses.length > 0) {
      const { ModbusBusSource } = await import('./sources/modbus/source.js');
      for (const bus of modbusBuses) await this.startComponent(new ModbusBusSource({ bus, admission, metrics, logger: log('modbus') }));
    }

    if (config.status.enabled) {
      this.statusServer = new StatusServer({
        host: config.status.host,
        port: config.status.port,
        exporter,
        health: () => this.progressHealth(),
        snapshot: () => this.dashboardSnapshot(),
        ready: () => ({ ready: this.started && !this.stopped, reasons: this.stopped ? ['stopping'] : this.started ? [] : ['starting'] }),
        logger: log('status'),
      });
      await this.startComponent(this.statusServer);
    }
    this.started = true;
    this.statsTimer = setInterval(() => void this.logStats(), 60_000).unref();
    // Checked every second whoever asks, so a cause is logged when it begins, not when someone looks.
    this.healthTimer = setInterval(() => void this.progressHealth().catch(() => undefined), 1_000).unref();
    const status = this.statusServer?.address;
    // The dashboard is the first thing a newcomer should open, so the line that says tidegate runs names it.
    const dashboard = status ? `http://${status.host.includes(':') ? `[${status.host}]` : status.host}:${status.port}/` : null;
    logger.info({ gatewayId: config.gatewayId, stream: config.kinesis.streamName, ...(dashboard ? { dashboard } : {}) }, dashboard ? `tidegate is running; dashboard at ${dashboard}` : 'tidegate is running');
  }

  /**
   * Health by progress, the one answer of /healthz, `tidegate status`, the dashboard and the stats line
   * (src/telemetry/health.ts): the oldest undelivered reading is read from the buffer first.
   */
  async progressHealth(): Promise<GatewayHealth> {
    if (!this.store) return this.health();
    const oldest = await this.oldestUndelivered();
    this.oldestUndeliveredAgeMs = oldest === null ? null : Math.max(0, Date.now() - oldest);
    return this.health();
  }

  /**
   * The oldest undelivered reading's receive time, read from the buffer at most every OLDEST_READ_MS and
   * once at a time, however often health is asked (every /healthz, status, dashboard second and stats line):
   * during a drain every delivery moves it, and a read per ask was a tenth of a paced drain's CPU under
   * status polling. Its age is still computed now; only a change of which reading is oldest may show late.
   */
  private oldestUndelivered(): Promise<number | null> {
    const now = performance.now();
    if (this.oldestRead && now - this.oldestRead.at < OLDEST_READ_MS) return this.oldestRead.value;
    const value = this.store.oldestUndeliveredAt();
    this.oldestRead = { at: now, value };
    // A failed read is not kept: the next ask reads again.
    value.catch(() => {
      if (this.oldestRead?.value === value) this.oldestRead = null;
    });
    return value;
  }

  /** What the live dashboard shows (sent once a second over /events). */
  private async dashboardSnapshot(): Promise<object> {
    const ledger = this.store.stats();
    const health = await this.progressHealth();
    // One read of every series (gauges included) for the whole snapshot.
    const series = this.metrics.snapshot();
    const byCode = (name: string): Record<string, number> => {
      const out: Record<string, number> = {};
      const pattern = new RegExp(`^${name}\\{code="([^"]*)"\\}$`);
      for (const [key, value] of Object.entries(series)) {
        const m = pattern.exec(key);
        if (m) out[m[1]!] = value;
      }
      return out;
    };
    return {
      t: Date.now(),
      gatewayId: this.config.gatewayId,
      health: { status: health.status, reasons: health.reasons, causes: health.causes },
      oldestUndeliveredAgeMs: health.oldestUndeliveredAgeMs,
      ledger,
      conservationGap: conservationGap(ledger),
      kinesis: {
        calls: this.metrics.get('kinesis_calls_total'),
        records: this.metrics.get('kinesis_records_total'),
        readingsDelivered: this.metrics.get('readings_delivered_total'),
        callFailures: byCode('kinesis_call_failures_total'),
        entryFailures: byCode('kinesis_entry_failures_total'),
        clockOffsetSeconds: series['kinesis_clock_offset_seconds'] ?? 0,
        shards: this.shardSnapshot(series),
      },
      devices: { known: this.activity.size, recent: this.activity.recent(50) },
      alarms: this.alarms && this.alarms.ruleNames.length > 0 ? (await this.alarms.list()).slice(0, 100) : [],
      rules: ruleStats(this.metrics, this.ruleNames),
    };
  }

  /** Per shard: Kinesis records, readings and bytes accepted, throttles, and the share of the limit pacing uses. */
  private shardSnapshot(series: Record<string, number>): Record<string, { records: number; readings: number; bytes: number; throttles: number; pacingShare: number | null }> {
    const out: Record<string, { records: number; readings: number; bytes: number; throttles: number; pacingShare: number | null }> = {};
    const row = (shard: string) => (out[shard] ??= { records: 0, readings: 0, bytes: 0, throttles: 0, pacingShare: null });
    const fields: Record<string, 'records' | 'readings' | 'bytes' | 'throttles'> = {
      kinesis_shard_records_total: 'records',
      kinesis_shard_readings_total: 'readings',
      kinesis_shard_bytes_total: 'bytes',
      kinesis_shard_throttles_total: 'throttles',
    };
    for (const [key, value] of Object.entries(series)) {
      const m = /^(kinesis_shard_\w+)\{shard="([^"]*)"\}$/.exec(key);
      if (!m) continue;
      const field = fields[m[1]!];
      if (field) row(m[2]!)[field] = value;
      else if (m[1] === 'kinesis_shard_pacing_share') row(m[2]!).pacingShare = value;
    }
    return out;
  }

  /** The open shards of the default stream as pacing knows them (empty when pacing is off). */
  get kinesisShards(): readonly string[] {
    return this.sink?.shards ?? [];
  }

  /** Where the status server listens (port resolved), when it is enabled. */
  get statusAddress(): { host: string; port: number } | null {
    return this.statusServer?.address ?? null;
  }

  private async startComponent(component: Component): Promise<void> {
    // Registered before start, so a half-started component (a listener that bound) is stopped too.
    this.running.push(component);
    await component.start({ logger: this.logger.child({ component: component.id }), metrics: this.metrics, clock: systemClock, signal: this.stopping.signal });
  }

  /** The routing rules of the config, each with its destination: another Kinesis stream or a Firehose delivery stream. */
  /**
   * What every Kinesis destination (the default stream and routed ones) takes from kinesis.*: the limits,
   * aggregation, and pacing (each stream its own pacer: `auto` paces anything but the bundled emulator).
   */
  private kinesisDestinationSettings() {
    const { pacing, aggregation, batch, endpoint } = this.config.kinesis;
    const paced = pacing.mode === 'on' || (pacing.mode === 'auto' && endpoint !== 'local');
    return {
      limits: { maxRecords: batch.maxRecords, maxBytes: batch.maxBytes, maxRecordBytes: KINESIS_MAX_RECORD_BYTES },
      aggregation: (aggregation.mode === 'kpl' ? { mode: 'kpl', maxBytes: aggregation.maxBytes } : { mode: 'none' }) as Aggregation,
      pacer: (): ShardPacer | null =>
        paced ? new ShardPacer({ recordsPerSecond: pacing.recordsPerSecondPerShard, bytesPerSecond: pacing.bytesPerSecondPerShard, share: pacing.share }) : null,
      shardRefreshMs: pacing.shardRefreshMs,
      learnRecordLimit: true,
    };
  }

  private async routes(kinesisPort: KinesisPort): Promise<SinkRoute[]> {
    const { config } = this;
    if (config.routes.length === 0) return [];
    let firehosePort: SdkFirehosePort | null = null;
    const routes: SinkRoute[] = [];
    for (const route of config.routes) {
      const match = compileRouteMatch(route.match);
      if (route.kinesis !== undefined) {
        if (this.localStreams) await ensureStream(this.localStreams, route.kinesis, config.kinesis.local.shards, AbortSignal.timeout(15_000));
        const stream = this.kinesisDestinationSettings();
        routes.push({ match, destination: { kind: 'kinesis', name: route.kinesis, port: kinesisPort, stream: kinesisPort, ...stream, pacer: stream.pacer() } });
      } else {
        const firehose = config.firehose;
        if (!firehosePort) {
          // Loaded with the first Firehose route: most gateways have none, and the SDK client stays resident.
          const { createFirehoseClient, SdkFirehosePort } = await import('./sinks/firehose/sdk-port.js');
          const client = createFirehoseClient({
            region: firehose.region ?? config.kinesis.region,
            requestTimeoutMs: config.kinesis.requestTimeoutMs,
            ...(firehose.endpoint ? { endpoint: firehose.endpoint } : {}),
            ...(this.awsCredentials ? { credentials: this.awsCredentials } : {}),
          });
          const created = new SdkFirehosePort(client, firehose.appendNewline);
          this.running.push({ id: 'firehose-client', stop: async () => created.close() });
          firehosePort = created;
        }
        routes.push({
          match,
          destination: {
            kind: 'firehose',
            name: route.firehose!,
            port: firehosePort,
            limits: { maxRecords: firehose.batch.maxRecords, maxBytes: firehose.batch.maxBytes, maxRecordBytes: FIREHOSE_MAX_RECORD_BYTES - (firehose.appendNewline ? 1 : 0) },
            aggregation: { mode: 'none' },
            pacer: null,
            shardRefreshMs: config.kinesis.pacing.shardRefreshMs,
            learnRecordLimit: false,
          },
        });
      }
    }
    this.logger.info({ routes: config.routes }, 'routing rules in force; unmatched readings go to kinesis.streamName');
    return routes;
  }

  /**
   * The Kinesis port: the direct one, which needs no AWS SDK client in the running gateway (issue "Pi-class
   * efficiency"), or the SDK's (`kinesis.putRecords: sdk`, for comparison), loaded only then.
   */
  private async kinesisPort(): Promise<KinesisPort & StreamAdmin & { clockOffsetMs(): number }> {
    const { kinesis } = this.config;
    if (kinesis.endpoint !== 'local') {
      // Aborted on stop, so a credentials request in flight does not hold the shutdown.
      const credentialsAbort = new AbortController();
      this.running.push({ id: 'aws-credentials', stop: async () => credentialsAbort.abort() });
      const credentials = await credentialsFromConfig(kinesis.credentials, 'kinesis.credentials', this.logger.child({ component: 'aws-credentials' }), credentialsAbort.signal);
      // Firehose routes sign with the same credentials (the IoT provider's role covers both, or the chain).
      this.awsCredentials = credentials;
      this.logger.info(
        { stream: kinesis.streamName, region: kinesis.region, endpoint: kinesis.endpoint ?? 'AWS', credentialSource: kinesis.credentials?.source ?? 'chain' },
        'forwarding to Amazon Kinesis',
      );
      if (kinesis.putRecords === 'sdk') {
        const { createKinesisClient, SdkKinesisPort } = await import('./sinks/kinesis/sdk-port.js');
        return new SdkKinesisPort(createKinesisClient({ region: kinesis.region, requestTimeoutMs: kinesis.requestTimeoutMs, ...(kinesis.endpoint ? { endpoint: kinesis.endpoint } : {}), ...(credentials ? { credentials } : {}) }));
      }
      const custom = kinesis.endpoint;
      const signingRegion = signingRegionOf(kinesis.region);
      const direct = new LeanKinesisPort({
        endpoint: custom ? async () => new URL(custom) : (signal) => awsKinesisEndpoint(kinesis.region, signal),
        signingRegion,
        credentials: credentials ?? defaultCredentialChain(signingRegion),
      });
      direct.prepare();
      return direct;
    }
    this.emulator = await startLocalEmulator(kinesis.local.host, kinesis.local.port);
    const emulator = this.emulator;
    this.running.push({ id: 'kinesis-emulator', stop: () => emulator.close() });
    let port: KinesisPort & StreamAdmin & { clockOffsetMs(): number };
    if (kinesis.putRecords === 'sdk') {
      const { createKinesisClient, SdkKinesisPort } = await import('./sinks/kinesis/sdk-port.js');
      port = new SdkKinesisPort(createKinesisClient({ region: LOCAL_REGION, endpoint: emulator.endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: kinesis.requestTimeoutMs }));
    } else {
      port = new LeanKinesisPort({ endpoint: async () => new URL(emulator.endpoint), signingRegion: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    }
    await ensureStream(port, kinesis.streamName, kinesis.local.shards, AbortSignal.timeout(15_000));
    this.localStreams = port;
    this.logger.warn(
      { endpoint: emulator.endpoint, stream: kinesis.streamName, shards: kinesis.local.shards },
      'readings go to a LOCAL Kinesis emulator in this process (in memory, gone when tidegate stops), not to AWS. ' +
        'To forward to Amazon Kinesis, remove kinesis.endpoint from the config and set kinesis.region and kinesis.streamName; ' +
        'credentials come from the standard AWS chain (environment, profile, instance role)',
    );
    return port;
  }

  private async logStats(): Promise<void> {
    const health = await this.progressHealth().catch(() => this.health());
    const s = this.store.stats();
    this.logger.info(
      {
        received: s.received,
        delivered: s.delivered,
        buffered: s.buffered,
        bufferUse: `${((100 * s.bufferedBytes) / s.maxBytes).toFixed(1)}%`,
        deadLettered: s.deadLettered,
        dropped: s.dropped,
        health: health.status,
        ...(health.causes.length > 0 ? { causes: health.causes } : {}),
      },
      'stats',
    );
  }

  private async stopAll(deadline: AbortSignal): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.stopping.abort();
    for (const component of [...this.running].reverse()) {
      try {
        await component.stop(deadline);
      } catch (err) {
        this.logger.error({ component: component.id, err: describeError(err) }, 'component did not stop cleanly');
      }
    }
    this.running.length = 0;
    if (this.store) await this.logStats();
  }
}
