import mqtt, { type MqttClient } from 'mqtt';

export interface LoadOptions {
  port: number;
  /** Device ids are `${prefix}${i}`; a new prefix per phase keeps each device's seq numbers unique. */
  prefix: string;
  publishers?: number;
  inFlight?: number;
  /** Upper bound on readings per publisher: every load loop is bounded. */
  maxPerPublisher?: number;
}

/**
 * Publishes QoS 1 readings from several clients until stopped or until a publish fails (the gateway died);
 * records every `${deviceId}#${seq}` that was PUBACKed.
 */
export function startQos1Load(opts: LoadOptions, acked: Set<string>) {
  let running = true;
  const clients: MqttClient[] = [];
  const loops = Array.from({ length: opts.publishers ?? 10 }, async (_, i) => {
    const deviceId = `${opts.prefix}${i}`;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${opts.port}`, { clientId: deviceId, reconnectPeriod: 0 });
    client.on('error', () => undefined);
    clients.push(client);
    let seq = 0;
    while (running && seq < (opts.maxPerPublisher ?? 200_000)) {
      const batch: Promise<void>[] = [];
      for (let k = 0; k < (opts.inFlight ?? 20); k++) {
        const s = ++seq;
        batch.push(client.publishAsync(`devices/${deviceId}/t`, JSON.stringify({ seq: s, v: s }), { qos: 1 }).then(() => void acked.add(`${deviceId}#${s}`)));
      }
      const results = await Promise.allSettled(batch);
      if (results.some((r) => r.status === 'rejected')) break;
    }
  });
  return {
    stop: async () => {
      running = false;
      for (const c of clients) c.end(true);
      await Promise.allSettled(loops);
    },
  };
}
