import net from 'node:net';
import { once } from 'node:events';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Admission } from '../../admission.js';
import { withTimeout } from '../../core/abort.js';
import { describeError, TidegateError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import type { ListenerConfig } from '../../config/schema.js';
import { GuardedConnection } from './guarded-connection.js';
import type { Violation } from './packet-size-guard.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { certificateDeviceId } from './certificate-identity.js';
import { createMqttTlsServer } from './tls-server.js';

export interface MqttBrokerSourceOptions {
  listeners: readonly ListenerConfig[];
  maxPayloadBytes: number;
  admission: Admission;
  logger: Logger;
  metrics: Metrics;
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
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly inflight = new Set<Promise<void>>();
  private stopping = false;
  private readonly refusals: RateLimitedLog;
  /** Addresses actually bound, in listener order (port 0 resolves to an ephemeral port). */
  readonly addresses: Array<{ host: string; port: number }> = [];

  constructor(private readonly opts: MqttBrokerSourceOptions) {
    this.refusals = new RateLimitedLog(opts.logger);
  }

  async start(): Promise<void> {
    this.broker = await Aedes.createBroker({ authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb) });
    this.broker.on('clientError', (client, err) => this.opts.logger.debug({ client: client.id, err: err.message }, 'mqtt client error'));
    this.opts.metrics.gauge('mqtt_connected_clients', () => this.broker?.connectedClients ?? 0);
    for (const [index, listener] of this.opts.listeners.entries()) {
      const server = listener.tls ? await this.createTlsServer(listener.tls, index) : net.createServer((socket) => this.accept(socket));
      server.listen(listener.port, listener.host);
      try {
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
      } catch (err) {
        throw new TidegateError('ERR_LISTEN', `cannot listen for MQTT on ${listener.host}:${listener.port}: ${describeError(err)}`, { cause: err });
      }
      const address = server.address() as net.AddressInfo;
      this.servers.push(server);
      this.addresses.push({ host: listener.host, port: address.port });
      this.opts.logger.info({ host: listener.host, port: address.port }, 'MQTT listener ready');
    }
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    for (const server of this.servers) server.close();
    // Admissions under way finish (and are acked) before the queue closes; new publishes are refused.
    await withTimeout(Promise.allSettled([...this.inflight]), 60_000, 'pending MQTT admissions', deadline).catch(() => undefined);
    for (const socket of this.sockets) socket.destroy();
    if (this.broker) await new Promise<void>((resolve) => this.broker!.close(() => resolve()));
  }

  private async createTlsServer(config: NonNullable<ListenerConfig['tls']>, index: number): Promise<net.Server> {
    const { server, material } = await createMqttTlsServer(config, index, {
      onSecureSocket: (socket) => this.accept(socket),
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

  private accept(socket: net.Socket): void {
    if (this.stopping) return void socket.destroy();
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    const conn = new GuardedConnection(
      socket,
      { maxPayloadBytes: this.opts.maxPayloadBytes, maxOtherPacketBytes: this.opts.maxPayloadBytes + OTHER_PACKET_SLACK },
      (violation, c) => this.onViolation(violation, c),
    );
    this.broker!.handle(conn);
  }

  private onViolation(v: Violation, conn: GuardedConnection): void {
    const clientId = (conn as unknown as { client?: Client }).client?.id ?? '';
    const origin = clientId || conn.peer;
    const reason = v.reason === 'payload_too_large' ? 'payload_too_large' : 'packet_too_large';
    const message =
      v.reason === 'payload_too_large'
        ? `PUBLISH declared a ${v.declaredBytes}-byte payload, over mqtt.maxPayloadBytes (${this.opts.maxPayloadBytes}); connection closed before the payload was read`
        : `packet of type ${v.packetType} declared ${v.declaredBytes} bytes (${v.reason}); connection closed before it was read`;
    const refusal = this.opts.admission.refuse({ reason, message, source: this.id, origin, declaredBytes: v.declaredBytes });
    this.track(refusal.catch((err) => this.opts.logger.error({ err: describeError(err) }, 'could not record a refused packet')));
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topics are reserved'));
    // Publishes by the broker itself (client null) are not device readings.
    if (!client) return cb(null);
    if (this.stopping) return cb(new TidegateError('ERR_SHUTDOWN', 'tidegate is shutting down'));
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // admit() always settles: the queue rejects a commit that takes longer than buffer.commitTimeoutMs.
    const admitted = this.opts.admission.admit({ source: this.id, topic: packet.topic, payload, origin: client.id, receivedAt: Date.now(), deviceId: certificateDeviceId(client) });
    // An error means no ack: aedes closes the connection and the device retransmits after reconnecting.
    this.track(
      admitted.then(
        () => cb(null),
        (err: unknown) => {
          this.opts.metrics.inc('mqtt_admission_failures_total');
          this.refusals.warn('not-stored', { client: client.id, err: describeError(err) }, 'reading not acknowledged: it could not be stored (the device keeps it and sends it again)');
          cb(err as Error);
        },
      ),
    );
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}
