import mqtt from 'mqtt';

export interface SitePublisher {
  /** `${deviceId}#${seq}` of every reading the site broker acknowledged (PUBACK). */
  acked: Set<string>;
  /** Resolves once every reading was acknowledged by the broker (or rejects after `timeoutMs`). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * A device publishing `count` QoS 1 readings to a site broker, `inFlight` at a time, with its own persistent
 * session (clean: false, stable client id) and MQTT.js's reconnect: what the broker did not acknowledge
 * before a restart is sent again after it, so the publisher itself loses nothing.
 */
export function startSitePublisher(url: string, opts: { deviceId: string; count: number; inFlight?: number; timeoutMs?: number }): SitePublisher {
  const acked = new Set<string>();
  const client = mqtt.connect(url, { clientId: `pub-${opts.deviceId}`, clean: false, reconnectPeriod: 100, connectTimeout: 2_000 });
  client.on('error', () => undefined);
  let stopped = false;
  const run = async (): Promise<void> => {
    let next = 1;
    const worker = async (): Promise<void> => {
      while (!stopped && next <= opts.count) {
        const seq = next++;
        await client.publishAsync(`devices/${opts.deviceId}/t`, JSON.stringify({ seq, v: seq }), { qos: 1 });
        acked.add(`${opts.deviceId}#${seq}`);
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight ?? 10 }, worker));
  };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const done = Promise.race([
    run(),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`publisher ${opts.deviceId}: ${acked.size} of ${opts.count} acknowledged within ${timeoutMs} ms`)), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
  done.catch(() => undefined);
  return {
    acked,
    done,
    stop: async () => {
      stopped = true;
      await client.endAsync(true);
    },
  };
}

/** The keys a publisher of `count` readings sends. */
export const expectedKeys = (deviceId: string, count: number): Set<string> => new Set(Array.from({ length: count }, (_, i) => `${deviceId}#${i + 1}`));
