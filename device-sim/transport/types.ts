/**
 * What the engine needs from a transport: numbered connections with bounded
 * in-flight windows, a publish with a completion callback, and a signal when
 * a full window has room again. MQTT and serial implement it.
 */

export type PublishDone = (err: Error | undefined) => void;

export interface Transport {
  readonly connections: number;
  /** Resolves once every connection is up; rejects with ConnectError after the connect timeout. */
  connect(signal?: AbortSignal): Promise<void>;
  canPublish(conn: number): boolean;
  /**
   * `done` runs once: when acknowledged (MQTT QoS>0), when written (QoS 0, serial), or with an error.
   * `qos` overrides the run's QoS for this one publish (MQTT only).
   */
  publish(conn: number, topic: string, payload: string | Buffer, done: PublishDone, qos?: 0 | 1 | 2): void;
  /** Set by the engine: called when `conn` can accept publishes again. */
  onCapacity: ((conn: number) => void) | undefined;
  readonly inflight: number;
  readonly connectionErrors: number;
  readonly reconnects: number;
  readonly connectedCount: number;
  /** Drops these connections without a goodbye (disconnect storms); they reconnect on their own. */
  disrupt(conns: readonly number[]): void;
  /** Resolves true once nothing is in flight, or false after timeoutMs. */
  whenIdle(timeoutMs: number): Promise<boolean>;
  close(force: boolean): Promise<void>;
}

export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** Shared bookkeeping for whenIdle(). */
export class IdleWaiters {
  private waiters: Array<() => void> = [];

  notify(): void {
    if (this.waiters.length === 0) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  wait(isIdle: () => boolean, timeoutMs: number): Promise<boolean> {
    if (isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}
