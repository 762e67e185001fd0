import { certificateDeviceId } from './certificate-identity.js';
import type { AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes';
import type { UserStore } from '../../auth/user-store.js';
import type { MqttAuthConfig, MqttLimitsConfig } from './config.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import { ClientRights, defaultDeviceRule, type AclRules } from './acl.js';
import { TokenBucket } from '../../core/token-bucket.js';

export interface BrokerAccessOptions {
  auth: MqttAuthConfig;
  limits: MqttLimitsConfig;
  topicTemplate: string;
  users: UserStore | null;
  /** Whether the listener this client came in on requires a username and password. */
  authRequired: (client: Client) => boolean;
  /** Called when a complete CONNECT arrived (the connect timeout stops). */
  connectArrived: (client: Client) => void;
  /** The highest protocol level the broker accepts: 4 with aedes 1.x, 5 with the aedes 2 line. */
  maxProtocolVersion: () => 4 | 5;
  metrics: Metrics;
  logger: Logger;
}

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

interface Session {
  rights: ClientRights;
  username: string | null;
  /**
   * mqtt.limits.publishRate: over the rate a publish is not refused but its authorization is delayed. aedes
   * reads nothing more from that socket until the callback (FACTS.md), so the delay becomes TCP backpressure
   * on the device, which keeps its readings, instead of a disconnect that would make it reconnect and resend
   * (MQTT 3.1.1 has no way to tell a client to slow down).
   */
  pacer: TokenBucket | null;
}

export interface PublishRefusal {
  reason: string;
  message: string;
}

/**
 * Who may connect, and what a connected client may publish and subscribe to: the aedes hooks `preConnect`,
 * `authenticate` and `authorizeSubscribe`, and the ACL half of `authorizePublish`. Every refusal is
 * counted (`mqtt_refused_total{reason}`, `mqtt_acl_denied_total{action}`) and warned about at a bounded rate.
 */
export class BrokerAccess {
  private readonly connects = new WeakMap<Client, ConnectPacket>();
  private readonly sessions = new WeakMap<Client, Session>();
  private readonly deviceRules: AclRules;
  private readonly anonymousRules: AclRules;
  private readonly warnings: RateLimitedLog;

  constructor(private readonly opts: BrokerAccessOptions) {
    const deviceRule = defaultDeviceRule(opts.topicTemplate);
    this.deviceRules = { publish: opts.auth.acl.publish ?? [deviceRule], subscribe: opts.auth.acl.subscribe ?? [deviceRule] };
    this.anonymousRules = { publish: opts.auth.anonymous.publish ?? ['#'], subscribe: opts.auth.anonymous.subscribe ?? ['#'] };
    this.warnings = new RateLimitedLog(opts.logger);
  }

  /** Runs when the CONNECT has been read whole, before aedes checks the protocol level. */
  preConnect(client: Client, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    this.opts.connectArrived(client);
    this.connects.set(client, packet);
    // aedes 1.x speaks 3.1 and 3.1.1 only: it answers any other level with return code 1 and closes
    // [MQTT-3.1.2-2]; counted here so an MQTT 5 device shows up in the metrics.
    const level = packet.protocolVersion;
    const maxLevel = this.opts.maxProtocolVersion();
    if (level !== 3 && level !== 4 && !(level === 5 && maxLevel === 5)) {
      this.refused('unsupported_protocol', client, `protocol level ${level} is not supported (${maxLevel === 5 ? 'MQTT 3.1.1 and 5' : 'MQTT 3.1.1 only'})`);
    }
    // aedes 2 refuses an empty client id with a persistent 3.1.1 session itself, before authenticate runs
    // [MQTT-3.1.3-8]; counted here, where aedes 1.x leaves it to authenticate below.
    if (maxLevel === 5 && level !== 5 && packet.clientId === '' && packet.clean === false) {
      this.refused('client_id_rejected', client, 'an empty client id needs a clean session [MQTT-3.1.3-8]');
    }
    // Keepalive 0 means "never time me out" [MQTT-3.1.2-10]; a silent half-open connection would then hold
    // its socket forever. 3.1.1 cannot tell the client another value, so the server applies its maximum:
    // aedes closes a connection silent for 1.5 times the keepalive [MQTT-3.1.2-24].
    const max = this.opts.limits.maxKeepaliveSeconds;
    if (!packet.keepalive || packet.keepalive > max) {
      packet.keepalive = max;
      this.opts.metrics.inc('mqtt_keepalive_adjusted_total');
    }
    cb(null, true);
  }

  authenticate(client: Client, username: string | undefined, password: Buffer | undefined, cb: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const packet = this.connects.get(client);
    this.connects.delete(client);
    const refuse = (code: number, reason: string, message: string): void => {
      this.refused(reason, client, message);
      cb(Object.assign(new Error(message), { returnCode: code }) as AuthenticateError, null);
    };
    const idProblem = this.clientIdProblem(packet?.clientId ?? client.id, packet?.clean ?? true);
    if (idProblem) return refuse(IDENTIFIER_REJECTED, 'client_id_rejected', idProblem);
    this.identify(client, username, password).then(
      (identity) => {
        if (identity === 'anonymous_refused') return refuse(NOT_AUTHORIZED, 'not_authorized', 'anonymous clients are not accepted on this listener (mqtt.auth.usersFile is set)');
        if (identity === 'bad_credentials') return refuse(BAD_USERNAME_OR_PASSWORD, 'bad_credentials', `bad username or password for "${username ?? ''}"`);
        const rights = new ClientRights(identity.username === null ? this.anonymousRules : this.deviceRules, { username: identity.username, clientId: client.id });
        // A will the client could not publish itself is refused at CONNECT rather than dropped silently
        // later: MQTT 3.1.1 §3.1.4 lets the server refuse a CONNECT that fails its authorization checks,
        // with a CONNACK return code (5, not authorized) and a closed connection.
        const will = packet?.will;
        if (will && (this.topicProblem(will.topic) || !rights.canPublish(will.topic))) {
          this.opts.metrics.inc('mqtt_acl_denied_total', { action: 'will' });
          return refuse(NOT_AUTHORIZED, 'will_denied', `will topic "${will.topic.slice(0, 200)}" is outside what this client may publish`);
        }
        const rate = this.opts.limits.publishRate;
        this.sessions.set(client, { rights, username: identity.username, pacer: rate ? new TokenBucket(rate.perSecond, Date.now, () => rate.burst) : null });
        cb(null, true);
      },
      (err: unknown) => refuse(SERVER_UNAVAILABLE, 'auth_error', `authentication failed: ${describeError(err)}`),
    );
  }

  /** The ACL check of a PUBLISH (or of the will, which aedes passes through authorizePublish too). */
  checkPublish(client: Client, packet: PublishPacket): PublishRefusal | null {
    const problem = this.topicProblem(packet.topic);
    if (problem) {
      this.refused(problem.reason, client, problem.message);
      return problem;
    }
    const session = this.sessions.get(client);
    if (session?.rights.canPublish(packet.topic)) return null;
    this.opts.metrics.inc('mqtt_acl_denied_total', { action: 'publish' });
    // MQTT 5 devices get PUBACK/PUBREC 0x87 with this message as its reason string; 3.1.1 ones a closed connection.
    const answer = client.version === 5 ? 'refused with reason code 0x87 (not authorized)' : 'connection closed';
    const message = `publish to "${packet.topic.slice(0, 200)}" is outside what ${this.who(client)} may publish; ${answer}, nothing stored`;
    this.warnings.warn('acl:publish', { client: client.id, username: session?.username ?? null, topic: packet.topic.slice(0, 200) }, message);
    return { reason: 'acl_denied', message };
  }

  /** How long this client's next publish must wait under mqtt.limits.publishRate (0: at once). */
  publishDelay(client: Client): number {
    const wait = this.sessions.get(client)?.pacer?.reserve(1) ?? 0;
    if (wait > 0) this.opts.metrics.inc('mqtt_publish_delayed_total');
    return wait;
  }

  /** A refused filter is granted 0x80 (failure) in the SUBACK [MQTT-3.9.3]; the connection stays. */
  authorizeSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const problem = this.topicProblem(sub.topic);
    if (problem) {
      this.refused(problem.reason, client, problem.message);
      return cb(null, null);
    }
    if (this.sessions.get(client)?.rights.canSubscribe(sub.topic)) return cb(null, sub);
    this.opts.metrics.inc('mqtt_acl_denied_total', { action: 'subscribe' });
    this.warnings.warn('acl:subscribe', { client: client.id, filter: sub.topic.slice(0, 200) }, `subscription to "${sub.topic.slice(0, 200)}" refused (SUBACK 0x80): outside what ${this.who(client)} may subscribe to`);
    cb(null, null);
  }

  private async identify(client: Client, username: string | undefined, password: Buffer | undefined): Promise<{ username: string | null } | 'anonymous_refused' | 'bad_credentials'> {
    // A listener taking identity from client certificates: the verified CN is the user (its ACL prefix too).
    const fromCertificate = certificateDeviceId(client);
    if (fromCertificate !== undefined) return { username: fromCertificate };
    const required = this.opts.authRequired(client);
    if (username === undefined) return required ? 'anonymous_refused' : { username: null };
    // Without a users file there is nothing to check a username against: the client is anonymous.
    const users = this.opts.users;
    if (!users) return { username: null };
    return (await users.verify(username, password ?? Buffer.alloc(0))) ? { username } : 'bad_credentials';
  }

  /**
   * Client ids take part in ACL rules (`{clientId}`), so wildcard characters and `/` would let a client
   * widen its own rights; NUL is not allowed in an MQTT string [MQTT-1.5.3-2]; an empty id needs a clean
   * session [MQTT-3.1.3-8].
   */
  private clientIdProblem(clientId: string, clean: boolean): string | null {
    if (clientId === '' && !clean) return 'an empty client id needs a clean session [MQTT-3.1.3-8]';
    if (clientId.length > this.opts.limits.maxClientIdLength) return `client id longer than ${this.opts.limits.maxClientIdLength} characters (mqtt.limits.maxClientIdLength)`;
    if (/[+#/\u0000]/.test(clientId)) return `client id "${clientId.replace(/\u0000/g, '\\0').slice(0, 80)}" contains "+", "#", "/" or NUL`;
    return null;
  }

  private topicProblem(topic: string): PublishRefusal | null {
    const { maxTopicBytes, maxTopicLevels } = this.opts.limits;
    if (Buffer.byteLength(topic) > maxTopicBytes) return { reason: 'topic_too_long', message: `topic longer than ${maxTopicBytes} bytes (mqtt.limits.maxTopicBytes)` };
    let levels = 1;
    for (let i = topic.indexOf('/'); i >= 0 && levels <= maxTopicLevels; i = topic.indexOf('/', i + 1)) levels += 1;
    if (levels > maxTopicLevels) return { reason: 'topic_too_many_levels', message: `topic with more than ${maxTopicLevels} levels (mqtt.limits.maxTopicLevels)` };
    return null;
  }

  private who(client: Client): string {
    const username = this.sessions.get(client)?.username;
    return username ? `user "${username}"` : `anonymous client "${client.id}"`;
  }

  /** Counts a refusal by reason and warns at a bounded rate. */
  refused(reason: string, client: Client | null, message: string): void {
    this.opts.metrics.inc('mqtt_refused_total', { reason });
    this.warnings.warn(`refused:${reason}`, { reason, client: client?.id ?? null }, `MQTT ${message}`);
  }
}
