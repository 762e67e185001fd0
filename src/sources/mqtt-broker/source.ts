import net from 'node:net';
import { once, setMaxListeners } from 'node:events';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Admission } from '../../admission.js';
import { withTimeout } from '../../core/abort.js';
import { describeError, TidegateError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import type { ListenerConfig, MqttAuthConfig, MqttLimitsConfig } from './config.js';
import { isLoopbackHost } from '../../config/listener-policy.js';
import { UserStore } from '../../auth/user-store.js';
import { delay } from '../../core/abort.js';
import { InFlight } from '../../core/in-flight.js';
import { BrokerAccess } from './access.js';
import { GuardedConnection } from './guarded-connection.js';
import { PublishRouting } from './publish-routing.js';
import type { Violation } from './packet-size-guard.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { certificateDeviceId } from './certificate-identity.js';
import { createMqttTlsServer } from './tls-server.js';
import { writeMqttNumbersWithoutTable } from '../mqtt-packet-numbers.js';
import { readMqttPacketsWithoutSlices } from '../mqtt-packet-reads.js';

export interface MqttBrokerSourceOptions {
  listeners: readonly ListenerConfig[];
  maxPayloadBytes: number;
  admission: Admission;
  logger: Logger;
  metrics: Metrics;
  /** Users file and ACL (mqtt.auth, validated: `mqttAuthSchema.parse({})` is the default: no users file, anonymous loopback clients with every right). */
  auth: MqttAuthConfig;
  /** Connection limits (mqtt.limits). */
  limits: MqttLimitsConfig;
  /** mqtt.topicTemplate: the default ACL rule of an authenticated device. */
  topicTemplate?: string;
}

// Room for a CONNECT with a will message, or a SUBSCRIBE with many filters.
const OTHER_PACKET_SLACK = 64 * 1024;

/**
 * The embedded MQTT broker (aedes). Durable admission happens in `authorizePublish`: aedes sends PUBACK
 * (QoS 1) or PUBREC (QoS 2) only after its callback, and reads nothing more from that socket until then.
 * The `published` hook and `publish` event run after the PUBACK, so storing there would lose data on a
 * crash ([MQTT-4.3.2]: at PUBACK ownership of the message passes to the receiver).
 */
export class MqttBrokerSource implements Component {
  readonly id = 'mqtt_broker';
  private broker: Aedes | null = null;
  /** Client publishes skip aedes' routing until a client first subscribes (publish-routing.ts). */
  private routing: PublishRouting | null = null;
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  /** Admissions under way (acknowledged only once stored): stop lets them finish before the buffer closes. */
  private readonly inflight = new InFlight();
  private stopping = false;
  private readonly refusals: RateLimitedLog;
  private access!: BrokerAccess;
  /** The highest protocol level the installed aedes line accepts (see start). */
  private brokerMaxVersion: 4 | 5 = 4;
  /** Per connection: whether its listener requires authentication, and its connect timer. */
  private readonly connections = new WeakMap<object, { authRequired: boolean; connectTimer: NodeJS.Timeout | null }>();
  private readonly stopController = new AbortController();
  /** Addresses actually bound, in listener order (port 0 resolves to an ephemeral port). */
  readonly addresses: Array<{ host: string; port: number }> = [];

  constructor(private readonly opts: MqttBrokerSourceOptions) {
    this.refusals = new RateLimitedLog(opts.logger);
    // Each publish delayed by mqtt.limits.publishRate waits on the stop signal, and its listener goes when
    // the wait ends. aedes reads a client's next chunk only once every packet of the last one is handled, so
    // the waits are bounded by one read's packets per connected client (and maxConnections): more than
    // Node's default of 10 listeners is expected, not a leak.
    setMaxListeners(0, this.stopController.signal);
  }

  async start(): Promise<void> {
    writeMqttNumbersWithoutTable();
    readMqttPacketsWithoutSlices();
    const users = this.opts.auth.usersFile ? await UserStore.open(this.opts.auth.usersFile, this.opts.logger) : null;
    this.access = new BrokerAccess({
      auth: this.opts.auth,
      limits: this.opts.limits,
      topicTemplate: this.opts.topicTemplate ?? 'devices/{deviceId}/#',
      users,
      authRequired: (client) => this.connections.get(client.conn)?.authRequired ?? true,
      connectArrived: (client) => this.clearConnectTimer(client.conn),
      maxProtocolVersion: () => this.brokerMaxVersion,
      metrics: this.opts.metrics,
      logger: this.opts.logger,
    });
    this.broker = await Aedes.createBroker({
      preConnect: (client, packet, cb) => this.access.preConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => this.access.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => {
        this.routing?.subscribing();
        this.access.authorizeSubscribe(client, sub, cb);
      },
      // Our own timer (accept) closes and counts slow CONNECTs; aedes' is a backstop behind it.
      connectTimeout: this.opts.limits.connectTimeoutMs + 5_000,
      // Topic levels are checked (and counted) by BrokerAccess against mqtt.limits.maxTopicLevels; aedes'
      // own check at its ceiling of 100 stays as a backstop for its matcher.
      maxTopicLevels: 100,
    });
    // aedes 1.x (the supported line) speaks MQTT 3.1/3.1.1 only. The aedes 2 line, which accepts MQTT 5,
    // has Receive Maximum among its broker settings; it runs here only where a test puts it in place of
    // aedes 1.x (docs/concepts/mqtt5-evaluation.md), and the MQTT 5 paths below are for it.
    this.brokerMaxVersion = 'receiveMaximum' in this.broker ? 5 : 4;
    this.routing = new PublishRouting(this.broker);
    this.broker.on('clientError', (client, err) => this.opts.logger.debug({ client: client.id, err: err.message }, 'mqtt client error'));
    this.opts.metrics.gauge('mqtt_connected_clients', () => this.broker?.connectedClients ?? 0);
    for (const [index, listener] of this.opts.listeners.entries()) {
      const server = listener.tls ? await this.createTlsServer(listener, index) : net.createServer((socket) => this.accept(socket, listener));
      server.listen(listener.port, listener.host);
      try {
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
      } catch (err) {
        throw new TidegateError('ERR_LISTEN', `cannot listen for MQTT on ${listener.host}:${listener.port}: ${describeError(err)}`, { cause: err });
      }
      const address = server.address() as net.AddressInfo;
      this.servers.push(server);
      this.addresses.push({ host: listener.host, port: address.port });
      this.opts.logger.info({ host: listener.host, port: address.port, mqttMaxVersion: this.brokerMaxVersion }, 'MQTT listener ready');
    }
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    for (const server of this.servers) server.close();
    // Admissions under way finish (and are acked) before the buffer closes; new publishes are refused.
    await withTimeout(this.inflight.idle(), 60_000, 'pending MQTT admissions', deadline).catch(() => undefined);
    for (const socket of this.sockets) socket.destroy();
    if (this.broker) await new Promise<void>((resolve) => this.broker!.close(() => resolve()));
  }

  /**
   * Publishes a message of the gateway's own (an alarm notification) on the embedded broker. It does not pass
   * `authorizePublish` (that is for clients), but every subscriber got its subscription through the subscribe
   * ACL, so only clients allowed the topic receive it. A retained empty payload deletes the retained message.
   */
  publishLocal(topic: string, payload: Buffer, options: { retain: boolean; qos: 0 | 1 }): Promise<void> {
    const broker = this.broker;
    if (!broker || this.stopping) return Promise.reject(new TidegateError('ERR_SHUTDOWN', 'the embedded MQTT broker is not running'));
    return new Promise((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload, qos: options.qos, retain: options.retain, dup: false }, (err?: Error) => (err ? reject(err) : resolve())),
    );
  }

  /** Whether client publishes are routed yet, and how many were completed without routing (publish-routing.ts). */
  get publishRouting(): { readonly routing: boolean; readonly unroutedPublishes: number } | null {
    return this.routing;
  }

  /** The topics under a filter that hold a retained message (the broker keeps them in memory). */
  async retainedTopics(filter: string): Promise<string[]> {
    const broker = this.broker;
    if (!broker) return [];
    const topics: string[] = [];
    const stream = ((broker as unknown as { persistence: unknown }).persistence as { createRetainedStream(pattern: string): AsyncIterable<{ topic: string }> }).createRetainedStream(filter);
    for await (const packet of stream) topics.push(packet.topic);
    return topics;
  }

  private async createTlsServer(listener: ListenerConfig, index: number): Promise<net.Server> {
    const config = listener.tls!;
    const { server, material } = await createMqttTlsServer(config, index, {
      onSecureSocket: (socket) => this.accept(socket, listener),
      onHandshakeFailure: (err, socket) => {
        this.opts.metrics.inc('mqtt_tls_handshake_failures_total');
        this.refusals.warn('tls-handshake', { listener: index, peer: `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`, err: describeError(err) }, 'TLS handshake refused');
      },
    });
    // Connections still in their handshake are not in `sockets` yet; they are closed on stop too.
    server.on('connection', (raw: net.Socket) => {
      this.sockets.add(raw);
      raw.on('close', () => this.sockets.delete(raw));
    });
    this.opts.logger.info({ listener: index, certificate: material.subject, validTo: material.validTo.toISOString(), mutualTls: config.requireClientCert }, 'MQTT listener uses TLS');
    return server;
  }

  private accept(socket: net.Socket, listener: ListenerConfig): void {
    if (this.stopping) return void socket.destroy();
    // Refused before anything is read or allocated for it: the cheapest answer to a connection flood.
    if (this.sockets.size >= this.opts.limits.maxConnections) {
      this.access.refused('max_connections', null, `connection from ${socket.remoteAddress ?? 'unknown'} refused: ${this.opts.limits.maxConnections} connections already open (mqtt.limits.maxConnections)`);
      return void socket.destroy();
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const conn = new GuardedConnection(
      socket,
      { maxPayloadBytes: this.opts.maxPayloadBytes, maxOtherPacketBytes: this.opts.maxPayloadBytes + OTHER_PACKET_SLACK },
      (violation, c) => this.onViolation(violation, c),
      // aedes gets the connection with its first good bytes: a connection refused from its first packet
      // header (or one that never sends anything) costs no broker client at all.
      (c) => this.broker!.handle(c),
    );
    // Slowloris: a socket that has not sent a whole CONNECT in time is closed (cleared in preConnect).
    const connectTimer = setTimeout(() => {
      this.access.refused('connect_timeout', null, `connection from ${conn.peer} closed: no complete CONNECT within ${this.opts.limits.connectTimeoutMs} ms (mqtt.limits.connectTimeoutMs)`);
      conn.destroy();
    }, this.opts.limits.connectTimeoutMs);
    this.connections.set(conn, { authRequired: this.authRequired(listener), connectTimer });
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.clearConnectTimer(conn);
    });
  }

  /**
   * With a users file, every listener requires authentication unless it sets allowAnonymous: true. A mutual TLS
   * listener has authenticated its clients in the handshake already (a certificate signed by its CA).
   */
  private authRequired(listener: ListenerConfig): boolean {
    if (listener.allowAnonymous === true) return false;
    if (listener.tls?.requireClientCert === true) return false;
    if (this.opts.auth.usersFile) return true;
    return !isLoopbackHost(listener.host);
  }

  private clearConnectTimer(conn: object): void {
    const entry = this.connections.get(conn);
    if (entry?.connectTimer) {
      clearTimeout(entry.connectTimer);
      entry.connectTimer = null;
    }
  }

  private onViolation(v: Violation, conn: GuardedConnection): void {
    const client = (conn as unknown as { client?: Client }).client;
    // Before a CONNECT was accepted the bytes come from nobody we know, not from a device: counted and
    // warned, but not written to the dead letters, or anyone who can open connections could make the
    // gateway write (and fsync) a record per connection.
    if (client?.connected !== true) {
      this.access.refused(v.reason, null, `connection from ${conn.peer} closed: packet of type ${v.packetType} declared ${v.declaredBytes} bytes before a CONNECT was accepted (${v.reason})`);
      return;
    }
    const clientId = client.id ?? '';
    const origin = clientId || conn.peer;
    const reason = v.reason === 'payload_too_large' ? 'payload_too_large' : 'packet_too_large';
    const message =
      v.reason === 'payload_too_large'
        ? `PUBLISH${v.topic !== undefined ? ` to ${v.topic}` : ''} declared a ${v.declaredBytes}-byte payload, over mqtt.maxPayloadBytes (${this.opts.maxPayloadBytes}); connection closed before the payload was read, so it is not kept`
        : `packet of type ${v.packetType} declared ${v.declaredBytes} bytes (${v.reason}); connection closed before it was read, so it is not kept`;
    const refusal = this.opts.admission.refuse({ reason, message, source: this.id, origin, declaredBytes: v.declaredBytes, ...(v.topic !== undefined ? { topic: v.topic } : {}) });
    this.track(refusal.catch((err) => this.opts.logger.error({ err: describeError(err) }, 'could not record a refused packet')));
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topics are reserved'));
    // Publishes by the broker itself (client null) are not device readings.
    if (!client) return cb(null);
    if (this.stopping) return cb(new TidegateError('ERR_SHUTDOWN', 'tidegate is shutting down'));
    // The ACL comes first: a refused publish never reaches the buffer. MQTT 3.1.1 has no PUBACK reason
    // codes, so the error makes aedes close the connection; the device still holds the unacknowledged message.
    // For an MQTT 5 device aedes 2 answers the error with PUBACK/PUBREC 0x87 (not authorized) and keeps the
    // connection: the device learns the publish was refused and may go on with its allowed topics.
    const refusal = this.access.checkPublish(client, packet);
    if (refusal) return cb(new Error(refusal.message));
    const wait = this.access.publishDelay(client);
    if (wait === 0) return this.admit(client, packet, cb);
    this.inflight.begin();
    delay(wait, this.stopController.signal).then(
      () => {
        this.admit(client, packet, cb);
        this.inflight.end();
      },
      () => {
        this.inflight.end();
        this.refuseUnstored(client, new TidegateError('ERR_SHUTDOWN', 'tidegate is shutting down'), cb);
      },
    );
  }

  private admit(client: Client, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (this.stopping) return this.refuseUnstored(client, new TidegateError('ERR_SHUTDOWN', 'tidegate is shutting down'), cb);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // The callback always comes: the buffer fails a commit that takes longer than buffer.commitTimeoutMs.
    // A callback, not a promise: one closure per reading instead of a promise chain (issue: Pi-class efficiency).
    this.inflight.begin();
    this.opts.admission.admitThen({ source: this.id, topic: packet.topic, payload, origin: client.id, receivedAt: Date.now(), deviceId: certificateDeviceId(client) }, (err) => {
      this.inflight.end();
      if (err === null) return cb(null);
      // An error means no ack: aedes closes the connection and the device retransmits after reconnecting.
      this.opts.metrics.inc('mqtt_admission_failures_total');
      this.refusals.warn('not-stored', { client: client.id, err: describeError(err) }, 'reading not acknowledged: it could not be stored (the device keeps it and sends it again)');
      this.refuseUnstored(client, err instanceof Error ? err : new Error(String(err)), cb);
    });
  }

  /**
   * A publish that was not stored must not be acknowledged in any form. With MQTT 3.1.1 the error closes the
   * connection. aedes 2 would answer an MQTT 5 device's error with a PUBACK 0x87, after which the device
   * frees the packet id and drops the reading [MQTT-4.3.2-4]; so the connection is closed first, and the
   * PUBACK aedes then tries to write finds it closed. The device sends the reading again after reconnecting.
   */
  private refuseUnstored(client: Client, err: Error, cb: (err?: Error | null) => void): void {
    if (client.version !== 5) return cb(err);
    client.close(() => cb(err));
  }

  private track(p: Promise<void>): void {
    this.inflight.begin();
    void p.finally(() => this.inflight.end());
  }
}
