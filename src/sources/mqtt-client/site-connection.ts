import mqtt, { type IClientOptions, type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { readMqttPacketsWithoutSlices } from '../mqtt-packet-reads.js';

/**
 * The one file that touches MQTT.js: one connection attempt to a site broker, turned into promises and a
 * message callback whose acknowledgement the caller controls.
 *
 * MQTT.js sends the PUBACK of a QoS 1 message when `handleMessage(packet, cb)` calls `cb`, and reads no
 * further packet from the socket until then. Holding `cb` until the durable commit would allow one commit
 * per message on a connection. So `handleMessage` hands the message over, calls `cb` with an error (MQTT.js
 * then skips its PUBACK and reads on), and the PUBACK is written later by `ack()`, after the commit, through
 * the client's own packet writer. Holding `cb` back is the flow control: `onPublish` resolves only when the
 * caller has room for another message in flight.
 *
 * QoS 2: MQTT.js answers PUBREC before `handleMessage` (which it calls only at PUBREL), yet ownership passes
 * at PUBREC [MQTT-4.3.3-2]. Its `customHandleAcks` hook runs before PUBREC, so QoS 2 messages are handed over
 * there and PUBREC goes out when `ack()` is called; `handleMessage` at PUBREL only completes the exchange.
 * MQTT.js reads nothing more until that PUBREC, so QoS 2 messages are stored one commit at a time.
 */
export interface Delivery {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
}

export interface SiteConnectionOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5;
  sessionExpirySeconds: number;
  receiveMaximum: number;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  connectTimeoutMs: number;
  keepaliveSeconds: number;
  /**
   * Called for every PUBLISH, in arrival order. `ack` (null for QoS 0) sends the PUBACK or PUBREC and must be
   * called in arrival order, after the message is durable. The connection reads the next packet only once
   * the returned promise resolves; a rejection leaves the message unacknowledged.
   */
  onPublish(delivery: Delivery, ack: (() => void) | null): Promise<void>;
}

export interface Subscription {
  topic: string;
  qos: 0 | 1 | 2;
}

/** Tells MQTT.js "no PUBACK from you": see the class comment. Never surfaces as an error. */
const ACK_DEFERRED = Object.freeze(new Error('acknowledgement deferred until the durable commit'));

export class SiteConnection {
  private readonly client: MqttClient;
  private lastError: Error | null = null;
  private isClosed = false;
  private corked = false;
  /** Resolves once the connection is gone, with the error that ended it (null after a requested close). */
  readonly closed: Promise<Error | null>;
  /** Resolves at CONNACK with whether the broker still had the session; rejects if the attempt fails. */
  readonly connected: Promise<{ sessionPresent: boolean }>;

  constructor(private readonly opts: SiteConnectionOptions) {
    // MQTT.js parses with the same mqtt-packet: its header reads without a Buffer slice each (src/sources/mqtt-packet-reads.ts).
    readMqttPacketsWithoutSlices();
    const options: IClientOptions = {
      clientId: opts.clientId,
      protocolVersion: opts.protocolVersion,
      // A persistent session needs clean: false and a stable client id: the broker keeps the
      // subscriptions and every unacknowledged message while tidegate is away [MQTT-3.1.2-4].
      clean: false,
      // MQTT.js reconnects after a fixed period without jitter; the source reconnects itself with backoff.
      reconnectPeriod: 0,
      resubscribe: false,
      // MQTT.js's switch for mqtt-packet's table of 65,536 two-byte Buffers (about 7 MiB kept for the life of
      // the process; see src/sources/mqtt-packet-numbers.ts): off, each number goes out in a fresh Buffer.
      writeCache: false,
      connectTimeout: opts.connectTimeoutMs,
      keepalive: opts.keepaliveSeconds,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.tls ? tlsOptions(opts.tls) : {}),
      ...(opts.protocolVersion === 5
        ? {
            properties: {
              // In MQTT 5 the session ends with the connection unless an expiry is set [MQTT5-3.1.2.11.2].
              sessionExpiryInterval: opts.sessionExpirySeconds,
              // Flow control: the broker sends no more unacknowledged QoS 1/2 messages than this [MQTT5-4.9].
              receiveMaximum: opts.receiveMaximum,
            },
          }
        : {}),
    };
    this.client = mqtt.connect(opts.url, options);
    // PUBACKs are small writes answered by the broker's next PUBLISHes: with Nagle's algorithm they wait for
    // the broker's delayed ACK (~40 ms on Linux), which caps a connection at a few window-fulls per second.
    (this.client.stream as { setNoDelay?(on: boolean): void } | undefined)?.setNoDelay?.(true);
    this.client.handleMessage = (packet, cb) => this.handleMessage(packet, cb);
    // Set after construction: MQTT.js accepts this hook from its options only for MQTT 5, but calls it for
    // both versions, before PUBREC (QoS 2) and before its handleMessage (QoS 1).
    this.client.options.customHandleAcks = (_topic, _message, packet, done) => {
      if (packet.qos !== 2) return done(0);
      this.deliver(packet, () => done(0)).catch(() => undefined);
    };
    this.client.on('error', (err) => (this.lastError = err));
    this.closed = new Promise((resolve) =>
      this.client.once('close', () => {
        this.isClosed = true;
        resolve(this.lastError);
      }),
    );
    this.connected = new Promise((resolve, reject) => {
      this.client.once('connect', (connack) => resolve({ sessionPresent: connack.sessionPresent === true }));
      void this.closed.then((err) => reject(err ?? new Error('connection closed before CONNACK')));
    });
    this.connected.catch(() => undefined);
  }

  /**
   * Subscribes; resolves with the QoS the broker granted per filter. With MQTT 5, retained messages are sent
   * only for subscriptions the session did not have yet (Retain Handling 1), so a reconnect does not replay them.
   */
  async subscribe(subscriptions: readonly Subscription[]): Promise<Array<{ topic: string; qos: number }>> {
    const map: ISubscriptionMap = {};
    for (const s of subscriptions) map[s.topic] = this.opts.protocolVersion === 5 ? { qos: s.qos, rh: 1 } : { qos: s.qos };
    const granted = await this.client.subscribeAsync(map);
    return granted.map((g) => ({ topic: g.topic, qos: g.qos }));
  }

  get isOpen(): boolean {
    return !this.isClosed && this.client.connected;
  }

  /** Closes the socket. `graceful` sends DISCONNECT first; either way the broker keeps the session. */
  async close(graceful: boolean): Promise<void> {
    if (this.isClosed) return;
    await this.client.endAsync(!graceful).catch(() => undefined);
  }

  private handleMessage(packet: IPublishPacket, cb: (err?: Error) => void): void {
    // QoS 2 reaches handleMessage at PUBREL: it was stored and acknowledged (PUBREC) already.
    if (packet.qos === 2) return cb();
    if (packet.qos === 0) {
      this.deliver(packet, null).then(() => cb(), () => undefined);
      return;
    }
    const messageId = packet.messageId!;
    this.deliver(packet, () => this.sendPuback(messageId)).then(() => cb(ACK_DEFERRED), () => undefined);
  }

  private deliver(packet: IPublishPacket, ack: (() => void) | null): Promise<void> {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    return this.opts.onPublish({ topic: packet.topic, payload, qos: packet.qos }, ack);
  }

  private sendPuback(messageId: number): void {
    // Never on a later connection: MQTT.js would queue a packet written while disconnected and send it
    // after the next CONNACK. What was not acked here is redelivered on the next connection instead.
    if (!this.isOpen) return;
    // A commit releases many acknowledgements at once: corked, they leave in one write, not one each.
    const stream = this.client.stream as { cork?(): void; uncork?(): void } | undefined;
    if (!this.corked && stream?.cork && stream.uncork) {
      this.corked = true;
      stream.cork();
      process.nextTick(() => {
        this.corked = false;
        stream.uncork!();
      });
    }
    (this.client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'puback', messageId });
  }
}

function tlsOptions(tls: NonNullable<SiteConnectionOptions['tls']>): Partial<IClientOptions> {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
}
