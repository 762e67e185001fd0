import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { Admission } from './admission.js';
import type { Config } from './config/schema.js';
import { describeError } from './core/errors.js';
import type { Component, HealthReport } from './core/lifecycle.js';
import type { Logger } from './core/logger.js';
import { Metrics } from './core/metrics.js';
import { ensureStream } from './kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalEmulator, type LocalEmulator } from './kinesis-local/emulator.js';
import { compileTopicTemplate } from './normalize/topic-map.js';
import { createControlHandler } from './control/handler.js';
import { controlSocketPath } from './control/protocol.js';
import { ControlServer } from './control/server.js';
import { conservationGap } from './queue/conservation.js';
import { DeviceActivity } from './telemetry/device-activity.js';
import { PrometheusExporter } from './telemetry/prometheus.js';
import { StatusServer } from './telemetry/status-server.js';
import { listDeadLetters } from './queue/dead-letters.js';
import { LevelQueue } from './queue/level-queue.js';
import { KINESIS_MAX_RECORD_BYTES, KINESIS_SINK_ID } from './sinks/kinesis/limits.js';
import { createKinesisClient, SdkKinesisPort } from './sinks/kinesis/sdk-port.js';
import { KinesisSink } from './sinks/kinesis/sink.js';
import { MqttBrokerSource } from './sources/mqtt-broker/source.js';
import { SerialPortSource } from './sources/serial/source.js';
import { ModbusBusSource } from './sources/modbus/source.js';


/** A started component and how to stop it, kept in start order so shutdown runs in reverse. */
interface Running {
  id: string;
  stop(deadline: AbortSignal): Promise<void>;
}

/**
 * The composition root: builds every component from the validated config, starts them
 * queue → emulator → sink → source (listeners last), and stops them in reverse through one path.
 */
export class Gateway {
  readonly metrics = new Metrics();
  private readonly running: Running[] = [];
  private queue!: LevelQueue;
  private sink!: KinesisSink;
  private source!: MqttBrokerSource;
  private emulator: LocalEmulator | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private statusServer: StatusServer | null = null;
  private exporter!: PrometheusExporter;
  private readonly activity = new DeviceActivity();
  private started = false;
  private stopped: Promise<void> | null = null;

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

  queueStats() {
    return this.queue.stats();
  }

  /** The oldest dead letters, for operators and tests. */
  readDeadLetters(max: number) {
    return listDeadLetters(this.queue, { limit: max });
  }

  /** The store, for the operator tools served over the control socket. */
  get buffer(): LevelQueue {
    return this.queue;
  }

  health(): HealthReport {
    const reasons = [...(this.sink ? this.sink.health().reasons : [])];
    const degraded = this.queue?.stats().degraded;
    if (degraded) reasons.push(degraded);
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons };
  }

  /** The one shutdown path, for signals and failed starts alike. Safe to call more than once. */
  stop(deadline: AbortSignal): Promise<void> {
    this.stopped ??= this.stopAll(deadline);
    return this.stopped;
  }

  private async startAll(): Promise<void> {
    const { config, logger, metrics } = this;
    const log = (id: string): Logger => logger.child({ component: id });

    this.queue = new LevelQueue({
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
    });
    await this.queue.open();
    this.running.push({ id: 'queue', stop: () => this.queue.close() });
    const stats = this.queue.stats();
    if (stats.degraded) metrics.inc('buffer_quarantined_total');
    logger.info(
      { dataDir: config.dataDir, durability: config.buffer.durability, buffered: stats.buffered, bufferedBytes: stats.bufferedBytes, maxBytes: stats.maxBytes, whenFull: stats.whenFull, deadLettersStored: stats.deadLettersStored },
      'buffer open',
    );

    const decode = { matchTopic: compileTopicTemplate(config.mqtt.topicTemplate), maxPayloadBytes: config.mqtt.maxPayloadBytes };
    const handler = createControlHandler({
      queue: this.queue,
      gatewayId: config.gatewayId,
      dataDir: config.dataDir,
      decode,
      running: true,
      health: () => this.health(),
      startedAt: Date.now(),
    });
    await this.startComponent(new ControlServer(controlSocketPath(config.dataDir), handler, log('control')));

    const client = await this.kinesisClient();
    const port = new SdkKinesisPort(client);
    this.running.push({ id: 'kinesis-client', stop: async () => port.close() });

    this.exporter = new PrometheusExporter(metrics, () => this.queue.stats());
    const exporter = this.exporter;
    this.sink = new KinesisSink({
      id: KINESIS_SINK_ID,
      streamName: config.kinesis.streamName,
      limits: { maxRecords: config.kinesis.batch.maxRecords, maxBytes: config.kinesis.batch.maxBytes, maxRecordBytes: KINESIS_MAX_RECORD_BYTES },
      maxAgeMs: config.kinesis.batch.maxAgeMs,
      retry: config.kinesis.retry,
      requestTimeoutMs: config.kinesis.requestTimeoutMs,
      concurrency: config.kinesis.concurrency,
      onCall: (seconds, outcome) => exporter.putRecordsSeconds.observe({ outcome }, seconds),
      queue: this.queue,
      port,
      logger: log('kinesis'),
      metrics,
    });
    await this.startComponent(this.sink);

    const admission = new Admission(this.queue, decode, metrics, log('admission'), this.activity);
    this.source = new MqttBrokerSource({
      listeners: config.mqtt.listeners,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      admission,
      logger: log('mqtt_broker'),
      metrics,
    });
    await this.startComponent(this.source);

    // Serial ports start after the broker so they stop before it; a port that cannot open yet is retried, not fatal.
    for (const port of config.serial) {
      if (!port.enabled) continue;
      const serial = new SerialPortSource({ port, admission, metrics, logger: log('serial') });
      await this.startComponent(serial);
    }
    for (const bus of config.modbus) {
      if (!bus.enabled) continue;
      await this.startComponent(new ModbusBusSource({ bus, admission, metrics, logger: log('modbus') }));
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
    this.statsTimer = setInterval(() => this.logStats(), 60_000).unref();
    logger.info({ gatewayId: config.gatewayId, stream: config.kinesis.streamName }, 'tidegate is running');
  }

  /**
   * Health by progress: degraded when the sink needs an operator, the buffer was quarantined, or the oldest
   * undelivered reading is older than status.maxDeliveryLagMs (readings are not getting through).
   */
  private async progressHealth(): Promise<HealthReport & { oldestUndeliveredAgeMs: number | null }> {
    const base = this.health();
    const oldest = await this.queue.oldestUndeliveredAt();
    const age = oldest === null ? null : Math.max(0, Date.now() - oldest);
    const reasons = [...base.reasons];
    if (age !== null && age > this.config.status.maxDeliveryLagMs) {
      reasons.push(`the oldest undelivered reading is ${Math.round(age / 1000)} s old (more than status.maxDeliveryLagMs): readings are not getting through to Kinesis`);
    }
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons, oldestUndeliveredAgeMs: age };
  }

  /** What the live dashboard shows (sent once a second over /events). */
  private async dashboardSnapshot(): Promise<object> {
    const ledger = this.queue.stats();
    const health = await this.progressHealth();
    const byCode = (name: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [key, value] of Object.entries(this.metrics.snapshot())) {
        const m = new RegExp(`^${name}\\{code="([^"]*)"\\}$`).exec(key);
        if (m) out[m[1]!] = value;
      }
      return out;
    };
    return {
      t: Date.now(),
      gatewayId: this.config.gatewayId,
      health: { status: health.status, reasons: health.reasons },
      oldestUndeliveredAgeMs: health.oldestUndeliveredAgeMs,
      ledger,
      conservationGap: conservationGap(ledger),
      kinesis: { calls: this.metrics.get('kinesis_calls_total'), callFailures: byCode('kinesis_call_failures_total'), entryFailures: byCode('kinesis_entry_failures_total') },
      devices: { known: this.activity.size, recent: this.activity.recent(50) },
    };
  }

  /** Where the status server listens (port resolved), when it is enabled. */
  get statusAddress(): { host: string; port: number } | null {
    return this.statusServer?.address ?? null;
  }

  private async startComponent(component: Component): Promise<void> {
    // Registered before start, so a half-started component (a listener that bound) is stopped too.
    this.running.push(component);
    await component.start();
  }

  private async kinesisClient(): Promise<KinesisClient> {
    const { kinesis } = this.config;
    if (kinesis.endpoint !== 'local') {
      this.logger.info(
        { stream: kinesis.streamName, region: kinesis.region, endpoint: kinesis.endpoint ?? 'AWS' },
        'forwarding to Amazon Kinesis with the standard AWS credential chain',
      );
      return createKinesisClient({ region: kinesis.region, requestTimeoutMs: kinesis.requestTimeoutMs, ...(kinesis.endpoint ? { endpoint: kinesis.endpoint } : {}) });
    }
    this.emulator = await startLocalEmulator(kinesis.local.host, kinesis.local.port);
    const emulator = this.emulator;
    this.running.push({ id: 'kinesis-emulator', stop: () => emulator.close() });
    const client = createKinesisClient({ region: LOCAL_REGION, endpoint: emulator.endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: kinesis.requestTimeoutMs });
    await ensureStream(client, kinesis.streamName, kinesis.local.shards, AbortSignal.timeout(15_000));
    this.logger.warn(
      { endpoint: emulator.endpoint, stream: kinesis.streamName, shards: kinesis.local.shards },
      'readings go to a LOCAL Kinesis emulator in this process (in memory, gone when tidegate stops), not to AWS. ' +
        'To forward to Amazon Kinesis, remove kinesis.endpoint from the config and set kinesis.region and kinesis.streamName; ' +
        'credentials come from the standard AWS chain (environment, profile, instance role)',
    );
    return client;
  }

  private logStats(): void {
    const s = this.queue.stats();
    this.logger.info(
      {
        received: s.received,
        delivered: s.delivered,
        buffered: s.buffered,
        bufferUse: `${((100 * s.bufferedBytes) / s.maxBytes).toFixed(1)}%`,
        deadLettered: s.deadLettered,
        dropped: s.dropped,
        health: this.health().status,
      },
      'stats',
    );
  }

  private async stopAll(deadline: AbortSignal): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const component of [...this.running].reverse()) {
      try {
        await component.stop(deadline);
      } catch (err) {
        this.logger.error({ component: component.id, err: describeError(err) }, 'component did not stop cleanly');
      }
    }
    this.running.length = 0;
    if (this.queue) this.logStats();
  }
}
