import { readFile } from 'node:fs/promises';
import type { Admission } from '../../admission.js';
import { delay, withTimeout } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError, TidegateError } from '../../core/errors.js';
import type { Component, HealthReport } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Counter, Metrics } from '../../core/metrics.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import type { SiteBrokerConfig } from './config.js';
import type { DecodeOptions } from '../../normalize/decode.js';
import { compileTopicTemplate } from '../../normalize/topic-map.js';
import { InFlightLimit } from './in-flight-limit.js';
import { OrderedAcks } from './ordered-acks.js';
import { SiteConnection, type Delivery, type SiteConnectionOptions } from './site-connection.js';

export interface MqttClientSourceOptions {
  config: SiteBrokerConfig;
  admission: Admission;
  logger: Logger;
  metrics: Metrics;
}

/**
 * CONNACK and SUBACK reason codes that no retry will fix: bad credentials, not authorized, client id
 * rejected, banned, bad authentication method (MQTT 3.1.1 §3.2.2.3 codes 2, 4, 5; MQTT 5 §3.2.2.2, §3.9.3).
 */
const OPERATOR_CODES = new Set([2, 4, 5, 0x85, 0x86, 0x87, 0x8a, 0x8c, 0x8f]);

function problemOf(err: unknown): { message: string; operator: boolean } {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: describeError(err), operator: typeof code === 'number' && OPERATOR_CODES.has(code) };
}

/** The URL as logged: never with credentials (the schema refuses them, this is a second guard). */
function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/**
 * Subscribes to a site broker as an MQTT client (`mqtt_client:<name>`). Every message goes through
 * admission; QoS 1/2 messages are acknowledged only once admission resolved, i.e. the reading (or its dead
 * letter) is committed. If a commit fails (the store is down), nothing more is acknowledged: the connection
 * is closed and opened again after a backoff, and the broker redelivers every unacknowledged message of the
 * persistent session (clean: false, stable client id; MQTT 3.1.1 §4.4 [MQTT-4.4.0-1]).
 */
export class MqttClientSource implements Component {
  readonly id: string;
  private readonly decode: DecodeOptions;
  private readonly limit: InFlightLimit;
  private readonly backoff: Backoff;
  private readonly reconnects: Counter;
  private readonly failures: Counter;
  private readonly qos0Lost: Counter;
  private readonly warnings: RateLimitedLog;
  private readonly stopping = new AbortController();
  private connection: SiteConnection | null = null;
  private loop: Promise<void> | null = null;
  private readonly settling = new Set<Promise<void>>();
  private lastProblem: string | null = 'not connected yet';
  private tls: SiteConnectionOptions['tls'];

  constructor(private readonly opts: MqttClientSourceOptions) {
    const { config, metrics } = opts;
    this.id = `mqtt_client:${config.name}`;
    this.decode = { matchTopic: compileTopicTemplate(config.topicTemplate), maxPayloadBytes: config.maxPayloadBytes };
    this.limit = new InFlightLimit(config.maxInFlight);
    this.backoff = new Backoff({ baseMs: config.reconnect.minDelayMs, maxMs: config.reconnect.maxDelayMs });
    const labels = { source: this.id };
    this.reconnects = metrics.counter('mqtt_client_reconnects_total', labels);
    this.failures = metrics.counter('mqtt_client_admission_failures_total', labels);
    this.qos0Lost = metrics.counter('mqtt_client_qos0_lost_total', labels);
    this.warnings = new RateLimitedLog(opts.logger);
    metrics.gauge(`mqtt_client_connected{source="${this.id}"}`, () => (this.connection?.isOpen ? 1 : 0));
    metrics.gauge(`mqtt_client_in_flight{source="${this.id}"}`, () => this.limit.inFlight);
  }

  async start(): Promise<void> {
    this.tls = await this.readTls();
    // The site broker may be down when tidegate starts: connecting is retried in the background.
    this.loop = this.run();
  }

  /** Degraded while not connected, with the reason. */
  health(): HealthReport {
    if (this.connection?.isOpen) return { status: 'ok', reasons: [] };
    return { status: 'degraded', reasons: [`${this.id}: not connected to ${safeUrl(this.opts.config.url)}: ${this.lastProblem ?? 'reconnecting'}`] };
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    // Commits under way finish and are acknowledged before the connection closes and the buffer after it.
    await withTimeout(Promise.allSettled([...this.settling]), 60_000, `${this.id} commits in flight`, deadline).catch(() => undefined);
    await this.connection?.close(true);
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { config, logger } = this.opts;
    while (!this.stopping.signal.aborted) {
      const problem = await this.connectOnce();
      if (this.stopping.signal.aborted) break;
      this.lastProblem = problem.message;
      const wait = this.backoff.next();
      const fields = { url: safeUrl(config.url), clientId: config.clientId, problem: problem.message, retryInMs: wait };
      if (problem.operator) logger.error(fields, 'the site broker refused tidegate (credentials, client id or topic permissions): fix the siteBrokers entry or the broker ACL; retrying');
      else logger.warn(fields, 'site broker connection down, reconnecting');
      try {
        await delay(wait, this.stopping.signal);
      } catch {
        break;
      }
      this.reconnects.inc();
    }
  }

  /** One connection, from CONNECT to close; returns why it ended. */
  private async connectOnce(): Promise<{ message: string; operator: boolean }> {
    const { config, logger } = this.opts;
    const closed = new AbortController();
    // One signal per connection, not per message: AbortSignal.any() is costly on a hot path.
    const signal = AbortSignal.any([closed.signal, this.stopping.signal]);
    const acks = new OrderedAcks((err) => {
      this.failures.inc();
      logger.error(
        { url: safeUrl(config.url), err: describeError(err) },
        'a message from the site broker could not be stored: acknowledgements stop and the connection is closed; the broker redelivers the unacknowledged messages after the reconnect',
      );
      void connection.close(false);
    });
    const connection = new SiteConnection({
      url: config.url,
      clientId: config.clientId,
      protocolVersion: config.protocolVersion,
      sessionExpirySeconds: config.sessionExpirySeconds,
      receiveMaximum: config.maxInFlight,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(this.tls ? { tls: this.tls } : {}),
      connectTimeoutMs: config.connectTimeoutMs,
      keepaliveSeconds: config.keepaliveSeconds,
      onPublish: (delivery, ack) => this.onPublish(delivery, ack, acks, signal),
    });
    this.connection = connection;
    // stop() may have closed the previous connection just before this one was made.
    if (this.stopping.signal.aborted) await connection.close(false);
    try {
      const { sessionPresent } = await withTimeout(connection.connected, config.connectTimeoutMs + 1_000, `CONNACK from ${safeUrl(config.url)}`);
      const granted = await withTimeout(connection.subscribe(config.subscriptions), config.connectTimeoutMs, `SUBACK from ${safeUrl(config.url)}`);
      const downgraded = granted.filter((g, i) => g.qos < config.subscriptions[i]!.qos);
      if (downgraded.length > 0) logger.warn({ granted: downgraded }, 'the site broker granted a lower QoS than requested: those messages are not redelivered after a failure');
      this.lastProblem = null;
      this.backoff.reset();
      logger.info({ url: safeUrl(config.url), clientId: config.clientId, sessionPresent, subscriptions: config.subscriptions.map((s) => s.topic) }, 'subscribed to site broker');
      const err = await connection.closed;
      return err ? problemOf(err) : { message: 'connection closed', operator: false };
    } catch (err) {
      await connection.close(false);
      return problemOf(err);
    } finally {
      closed.abort();
    }
  }

  /**
   * Takes one message: waits for a slot (flow control), starts its admission, and queues its
   * acknowledgement behind the commit. Resolves when the next packet may be read.
   */
  private async onPublish(delivery: Delivery, ack: (() => void) | null, acks: OrderedAcks, signal: AbortSignal): Promise<void> {
    if (signal.aborted || acks.failed) throw new TidegateError('ERR_SHUTDOWN', `${this.id}: connection closing, message left to the broker`);
    await this.limit.acquire(signal);
    const { config } = this.opts;
    const stored = this.opts.admission.admit(
      { source: this.id, topic: delivery.topic, payload: delivery.payload, origin: config.name, receivedAt: Date.now() },
      this.decode,
    );
    const settled = stored.then(
      () => this.limit.release(),
      (err: unknown) => {
        this.limit.release();
        // QoS 0 has no redelivery: the reading is gone. Say so (QoS 1/2 are redelivered by the broker).
        if (delivery.qos === 0) this.qos0Lost.inc();
        if (delivery.qos === 0) this.warnings.warn(`${this.id}:qos0`, { err: describeError(err) }, 'a QoS 0 message could not be stored and is lost (QoS 0 has no redelivery)');
      },
    );
    this.settling.add(settled);
    void settled.finally(() => this.settling.delete(settled));
    acks.push(stored, ack);
  }

  private async readTls(): Promise<SiteConnectionOptions['tls']> {
    const tls = this.opts.config.tls;
    if (!tls) return undefined;
    const read = async (key: 'caFile' | 'certFile' | 'keyFile'): Promise<Buffer | undefined> => {
      const file = tls[key];
      if (file === undefined) return undefined;
      try {
        return await readFile(file);
      } catch (err) {
        throw new TidegateError('ERR_CONFIG_READ', `siteBrokers "${this.opts.config.name}": cannot read tls.${key} ${file}: ${describeError(err)}`, { cause: err });
      }
    };
    const [ca, cert, key] = await Promise.all([read('caFile'), read('certFile'), read('keyFile')]);
    return { rejectUnauthorized: tls.rejectUnauthorized, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }
}
