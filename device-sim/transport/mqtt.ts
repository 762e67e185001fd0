/**
 * A pool of MQTT connections with per-connection in-flight accounting.
 *
 * The engine asks `canPublish(i)` before every publish so memory stays
 * bounded: QoS>0 is capped at maxInflight unacknowledged publishes; QoS 0 has
 * no acks, so it is gated on the socket instead (connected and not needing
 * drain), otherwise mqtt.js would buffer without limit while the broker is slow
 * or down. Connections open in waves of CONNECT_CONCURRENCY, because 10,000
 * simultaneous SYNs overflow a listen backlog and turn into 1 s retransmits.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttPlan } from '../plan.js';
import { ConnectError, IdleWaiters, type PublishDone, type Transport } from './types.js';

const CONNECT_CONCURRENCY = 256;

interface Connection {
  client: MqttClient;
  inflight: number;
}

/** CONNACK refusals (bad credentials, banned, ...) will not go away by retrying: fail at once. */
function isRefusal(err: Error): boolean {
  return typeof (err as { code?: unknown }).code === 'number';
}

export class MqttTransport implements Transport {
  private readonly conns: Connection[] = [];
  private totalInflight = 0;
  private readonly idle = new IdleWaiters();
  onCapacity: ((conn: number) => void) | undefined;
  connectionErrors = 0;
  reconnects = 0;
  lastError: Error | undefined;

  constructor(private readonly plan: MqttPlan) {}

  get connections(): number {
    return this.plan.connections;
  }

  get inflight(): number {
    return this.totalInflight;
  }

  get connectedCount(): number {
    let n = 0;
    for (const c of this.conns) if (c.client.connected) n++;
    return n;
  }

  private clientOptions(i: number): IClientOptions {
    const p = this.plan;
    const opts: IClientOptions = {
      clientId: p.clientIds[i] as string,
      clean: p.clean,
      protocolVersion: p.protocolVersion,
      reconnectPeriod: p.reconnectPeriodMs,
      connectTimeout: p.connectTimeoutMs,
      keepalive: p.keepaliveSec,
      // Offline QoS 0 publishes would pile up in memory; QoS 0 is gated on the socket instead.
      queueQoSZero: false,
    };
    if (p.username !== undefined) opts.username = p.username;
    if (p.password !== undefined) opts.password = p.password;
    if (p.protocolVersion === 5 && p.sessionExpirySec !== undefined) opts.properties = { sessionExpiryInterval: p.sessionExpirySec };
    if (p.tls) {
      opts.rejectUnauthorized = p.tls.rejectUnauthorized;
      if (p.tls.ca) opts.ca = p.tls.ca;
      if (p.tls.cert) opts.cert = p.tls.cert;
      if (p.tls.key) opts.key = p.tls.key;
      if (p.tls.servername) opts.servername = p.tls.servername;
    }
    return opts;
  }

  private open(i: number, onFirstConnect: () => void, onRefused: (err: Error) => void): void {
    const client = connect(this.plan.url, this.clientOptions(i));
    const conn: Connection = { client, inflight: 0 };
    this.conns[i] = conn;
    let first = true;
    client.on('error', (err) => {
      this.connectionErrors++;
      this.lastError = err;
      if (first && isRefusal(err)) onRefused(err);
    });
    client.on('reconnect', () => {
      this.reconnects++;
    });
    client.on('connect', () => {
      // A new socket after every reconnect: QoS 0 waits for its 'drain'.
      client.stream.on('drain', () => this.onCapacity?.(i));
      if (first) {
        first = false;
        onFirstConnect();
      } else this.onCapacity?.(i);
    });
  }

  /**
   * Opens every connection and resolves once all have received CONNACK. Rejects
   * with ConnectError after connectTimeoutMs (or at once on a CONNACK refusal),
   * and resolves early (with whatever is connected) when `signal` aborts.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    const { url, connections, connectTimeoutMs } = this.plan;
    let next = 0;
    let up = 0;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await new Promise<'ok' | 'timeout' | 'aborted' | Error>((resolve) => {
      const startOne = (): void => {
        if (next >= connections) return;
        this.open(next++, () => {
          up++;
          if (up === connections) resolve('ok');
          else startOne();
        }, resolve);
      };
      for (let k = 0; k < Math.min(CONNECT_CONCURRENCY, connections); k++) startOne();
      timer = setTimeout(() => resolve('timeout'), connectTimeoutMs);
      if (signal?.aborted) resolve('aborted');
      onAbort = () => resolve('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    if (outcome === 'ok' || outcome === 'aborted') return;
    const connected = this.connectedCount;
    await this.close(true);
    if (outcome instanceof Error) {
      throw new ConnectError(
        `the broker at ${url} refused the connection: ${outcome.message}. Check --username/--password (or transport.mqtt.username/password), ` +
          'the client certificate, and that the broker allows this client id and protocol version.',
      );
    }
    const cause = this.lastError ? ` (last error: ${this.lastError.message})` : '';
    throw new ConnectError(
      `could not connect to ${url} within ${connectTimeoutMs / 1000} s: ${connected}/${connections} connections up${cause}. ` +
        'Check that the broker is running and --url is right (mqtts:// with --ca for TLS), or raise --connect-timeout.',
    );
  }

  canPublish(i: number): boolean {
    const c = this.conns[i] as Connection;
    if (this.plan.qos === 0) return c.client.connected && !c.client.stream.writableNeedDrain;
    return c.inflight < this.plan.maxInflight;
  }

  publish(i: number, topic: string, payload: string | Buffer, done: PublishDone, qos: 0 | 1 | 2 = this.plan.qos): void {
    const c = this.conns[i] as Connection;
    c.inflight++;
    this.totalInflight++;
    c.client.publish(topic, payload, { qos }, (err) => {
      c.inflight--;
      this.totalInflight--;
      done(err ?? undefined);
      if (this.plan.qos > 0 && c.inflight === this.plan.maxInflight - 1) this.onCapacity?.(i);
      if (this.totalInflight === 0) this.idle.notify();
    });
  }

  disrupt(conns: readonly number[]): void {
    // Destroying the socket is what a network fault looks like: no DISCONNECT, mqtt.js reconnects after reconnectPeriod.
    for (const i of conns) this.conns[i]?.client.stream?.destroy();
  }

  whenIdle(timeoutMs: number): Promise<boolean> {
    return this.idle.wait(() => this.totalInflight === 0, timeoutMs);
  }

  /**
   * Ends every connection. `force` skips the graceful DISCONNECT wait, which is
   * what we want after the drain timeout: outstanding publishes are then failed
   * by mqtt.js with "Connection closed".
   */
  async close(force: boolean): Promise<void> {
    await Promise.all(this.conns.map((c) => c?.client.endAsync(force)));
  }
}
