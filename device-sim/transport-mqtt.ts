/**
 * A pool of MQTT connections with per-connection in-flight accounting.
 *
 * The simulator asks `canPublish(i)` before every publish so memory stays
 * bounded: QoS>0 is capped at maxInflight unacknowledged publishes; QoS 0 has no
 * acks, so it is gated on the socket instead (connected and not needing drain),
 * otherwise mqtt.js would queue without limit while the broker is slow or down.
 */
import { randomBytes } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import type { QoS } from './options.js';

export interface TransportOptions {
  url: string;
  connections: number;
  clientIdPrefix: string;
  qos: QoS;
  maxInflight: number;
  connectTimeoutMs: number;
}

export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

interface Connection {
  client: MqttClient;
  inflight: number;
}

export type PublishCallback = (err: Error | undefined) => void;

export class MqttTransport {
  private readonly conns: Connection[] = [];
  private totalInflight = 0;
  private idleWaiters: Array<() => void> = [];
  connectionErrors = 0;
  reconnects = 0;
  lastError: Error | undefined;

  constructor(private readonly opts: TransportOptions) {}

  get inflight(): number {
    return this.totalInflight;
  }

  get connectedCount(): number {
    let n = 0;
    for (const c of this.conns) if (c.client.connected) n++;
    return n;
  }

  /**
   * Opens every connection and resolves once all have received CONNACK. Rejects
   * with ConnectError after connectTimeoutMs so a dead broker fails fast, and
   * resolves early (with whatever is connected) when `signal` aborts.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    const { url, connections, clientIdPrefix, connectTimeoutMs } = this.opts;
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < connections; i++) {
      const client = connect(url, {
        clientId: `${clientIdPrefix}sim-${i}-${randomBytes(4).toString('hex')}`,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: connectTimeoutMs,
        // Offline QoS 0 publishes would pile up in memory; we gate QoS 0 on the socket instead.
        queueQoSZero: false,
      });
      client.on('error', (err) => {
        this.connectionErrors++;
        this.lastError = err;
      });
      client.on('reconnect', () => {
        this.reconnects++;
      });
      this.conns.push({ client, inflight: 0 });
      ready.push(new Promise((resolve) => client.once('connect', () => resolve())));
    }

    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), connectTimeoutMs);
    });
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal?.aborted) return resolve('aborted');
      onAbort = () => resolve('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const outcome = await Promise.race([Promise.all(ready).then(() => 'ok' as const), timeout, aborted]);
      if (outcome === 'timeout') {
        const up = this.connectedCount;
        const cause = this.lastError ? ` (last error: ${this.lastError.message})` : '';
        await this.close(true);
        throw new ConnectError(
          `could not connect to ${url} within ${connectTimeoutMs / 1000} s: ${up}/${connections} connections up${cause}. ` +
            'Check that the broker is running and --url is right, or raise --connect-timeout.',
        );
      }
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  canPublish(i: number): boolean {
    const c = this.conns[i] as Connection;
    if (this.opts.qos === 0) return c.client.connected && !c.client.stream.writableNeedDrain;
    return c.inflight < this.opts.maxInflight;
  }

  /** `done` runs once: on PUBACK/PUBCOMP (QoS>0), after the socket write (QoS 0), or with an error. */
  publish(i: number, topic: string, payload: string, done: PublishCallback): void {
    const c = this.conns[i] as Connection;
    c.inflight++;
    this.totalInflight++;
    c.client.publish(topic, payload, { qos: this.opts.qos }, (err) => {
      c.inflight--;
      this.totalInflight--;
      done(err ?? undefined);
      if (this.totalInflight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  /** Resolves true once nothing is in flight, or false after timeoutMs. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.totalInflight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(waiter);
    });
  }

  /**
   * Ends every connection. `force` skips the graceful DISCONNECT wait, which is
   * what we want after the drain timeout: outstanding publishes are then failed
   * by mqtt.js with "Connection closed".
   */
  async close(force: boolean): Promise<void> {
    await Promise.all(this.conns.map((c) => c.client.endAsync(force)));
  }
}
