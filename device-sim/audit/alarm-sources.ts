/**
 * Where alarms are read from: the Kinesis stream (records of kind "alarm",
 * read with the audit's StreamReader, from TRIM_HORIZON), or the gateway's
 * MQTT alarm topics. MQTT only shows what happens while subscribed (plus the
 * retained messages of alarms active at subscribe time), so the listener has
 * to run during the run it scores, for as long as `listenMs`.
 */
import { connect, type MqttClient } from 'mqtt';
import { alarmFromBytes, type AlarmCollector } from './alarm-records.js';
import type { StreamReader } from './kinesis-reader.js';

export const DEFAULT_ALARM_TOPIC = 'tidegate/alarms/#';

/** Adds the alarm records among `reader.records[from..]`; returns the new read position. */
export function collectFromStream(reader: StreamReader, collector: AlarmCollector, from: number): number {
  const recs = reader.records;
  for (let i = from; i < recs.length; i++) collector.add(alarmFromBytes((recs[i] as { data: Uint8Array }).data));
  return recs.length;
}

export class AlarmListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlarmListenError';
  }
}

export interface MqttAlarmOptions {
  url: string;
  topic?: string;
  listenMs: number;
  connectTimeoutMs?: number;
  username?: string;
  password?: string;
  signal?: AbortSignal;
  /** Called once subscribed (the CLI tells the user; tests start publishing). */
  onSubscribed?: () => void;
}

/** Subscribes, collects for listenMs (or until aborted), disconnects. */
export async function collectFromMqtt(o: MqttAlarmOptions, collector: AlarmCollector): Promise<void> {
  const topic = o.topic ?? DEFAULT_ALARM_TOPIC;
  const client: MqttClient = connect(o.url, {
    clientId: `device-sim-audit-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  });
  client.on('message', (_topic, payload) => {
    // An empty retained payload removes a retained alarm: it was cleared.
    if (payload.length === 0) collector.addEmptyPayload();
    else collector.add(alarmFromBytes(payload));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new AlarmListenError(`no connection to ${o.url} within ${(o.connectTimeoutMs ?? 10_000) / 1000} s; check --mqtt-url`)), o.connectTimeoutMs ?? 10_000);
      // Refused connections (bad credentials, a broker that says no) arrive as 'error'; unhandled, it would throw.
      client.on('error', (err) => {
        clearTimeout(timer);
        reject(new AlarmListenError(`cannot listen on ${o.url}: ${err.message}`));
      });
      client.once('connect', () => {
        clearTimeout(timer);
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          if (err) reject(new AlarmListenError(`cannot subscribe to ${topic}: ${err.message}`));
          else if (granted?.some((g) => g.qos === 128)) reject(new AlarmListenError(`the broker refused the subscription to ${topic}`));
          else resolve();
        });
      });
    });
    o.onSubscribed?.();
    await new Promise<void>((resolve) => {
      if (o.signal?.aborted) return resolve();
      const timer = setTimeout(resolve, o.listenMs);
      o.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}
