import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { validateConfig } from '../../src/config/load.js';
import { TidegateError } from '../../src/core/errors.js';
import { Metrics } from '../../src/core/metrics.js';
import type { Reading } from '../../src/normalize/reading.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { DurableBuffer } from '../../src/buffer/types.js';
import { MqttClientSource } from '../../src/sources/mqtt-client/source.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CLIENT_ID = 'tidegate-site-a';
const logger = pino({ level: process.env.TIDEGATE_TEST_LOG ?? 'silent' });

function siteConfig(url: string, qos: 0 | 1 | 2) {
  const config = validateConfig(
    {
      siteBrokers: [
        { name: 'site', url, clientId: CLIENT_ID, subscriptions: [{ topic: 'devices/#', qos }], reconnect: { minDelayMs: 20, maxDelayMs: 200 } },
      ],
    },
    'test config',
  );
  return config.siteBrokers[0]!;
}

/** A real LevelDB buffer whose appends wait at a gate that this test never opens: the commit is held open. */
function heldQueue(inner: LevelBuffer) {
  let readings = 0;
  const never = new Promise<never>(() => undefined);
  const buffer: DurableBuffer = Object.assign(Object.create(inner) as LevelBuffer, {
    append: async (batch: readonly Reading[]) => {
      readings += batch.length;
      return never;
    },
  });
  // Readings handed to the store, whether in one append (admissions of one event-loop turn are one batch) or several.
  return { buffer, appended: () => readings };
}

/** A real LevelDB buffer that fails every append while `down` is set, as a store whose disk went away. */
function failingQueue(inner: LevelBuffer) {
  const state = { down: true, failures: 0 };
  const buffer: DurableBuffer = Object.assign(Object.create(inner) as LevelBuffer, {
    append: async (readings: readonly Reading[]) => {
      if (state.down) {
        state.failures += 1;
        throw new TidegateError('ERR_QUEUE_WRITE', 'write failed: store unavailable (test)', { retryable: true });
      }
      return inner.append(readings);
    },
  });
  return { buffer, state };
}

const count = (log: string, pattern: RegExp): number => log.split('\n').filter((l) => pattern.test(l)).length;
const storedSeqs = async (buffer: LevelBuffer): Promise<number[]> =>
  (await buffer.read('telemetry', 0, 1_000)).map((r) => (JSON.parse(r.data.toString()) as { seq: number }).seq).sort((a, b) => a - b);

describe('mqtt_client source: acknowledgement after the durable commit', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  });

  async function rig() {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const broker: Mosquitto = await startMosquitto(temp.dir);
    closers.push(() => broker.stop());
    const store = new LevelBuffer({ dir: `${temp.dir}/data`, gatewayId: 'gw', durability: 'fsync', commitIntervalMs: 0, maxCommitRecords: 100, sinkIds: ['kinesis'] });
    await store.open();
    closers.push(() => store.close());
    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'device-publisher', reconnectPeriod: 0 });
    closers.push(() => publisher.endAsync(true));
    return { broker, store, publisher };
  }

  function source(buffer: DurableBuffer, url: string, qos: 0 | 1 | 2, metrics = new Metrics()) {
    const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
    const s = new MqttClientSource({ config: siteConfig(url, qos), admission, logger, metrics });
    return { source: s, metrics };
  }

  for (const qos of [1, 2] as const) {
    const ack = qos === 1 ? 'PUBACK' : 'PUBREC';
    it(`sends no ${ack} for a QoS ${qos} message until its commit, and the broker redelivers what was held when the connection dies`, async () => {
      // Design: the commit is held open (appends never complete). mosquitto logs every packet it receives,
      // so its log shows whether tidegate acknowledged anything meanwhile: it must not have. Then the
      // connection is dropped and a fresh source (same client id, an ordinary store) connects: the broker
      // must redeliver every held message from the persistent session. A source that acknowledged before
      // the commit fails both checks: the log shows the acks, and the broker, having discarded the
      // messages at the ack, has nothing to redeliver.
      const { broker, store, publisher } = await rig();
      const held = heldQueue(store);
      const first = source(held.buffer, broker.url, qos);
      await first.source.start();
      closers.push(() => first.source.stop(AbortSignal.timeout(1_000)));
      await expect.poll(() => first.source.health().status, { timeout: 10_000 }).toBe('ok');

      const n = 5;
      for (let seq = 1; seq <= n; seq++) await publisher.publishAsync(`devices/th-${seq}/t`, JSON.stringify({ seq, v: seq }), { qos });
      // QoS 1 messages are stored concurrently (all five reach the store); QoS 2 one commit at a time.
      await expect.poll(held.appended, { timeout: 10_000 }).toBe(qos === 1 ? n : 1);
      await expect.poll(async () => count(await broker.readLog(), new RegExp(`Sending PUBLISH to ${CLIENT_ID} `)), { timeout: 10_000 }).toBeGreaterThanOrEqual(qos === 1 ? n : 1);
      // While the commit is held, a round trip of the same connection's broker shows no acknowledgement.
      await publisher.publishAsync('other/topic', 'x', { qos: 1 });
      expect(count(await broker.readLog(), new RegExp(`Received ${ack} from ${CLIENT_ID} `))).toBe(0);

      // The connection goes away with the commits still open (deadline already passed: nothing is waited for).
      await first.source.stop(AbortSignal.abort());
      expect(store.stats().received).toBe(0);

      const second = source(store, broker.url, qos);
      await second.source.start();
      closers.push(() => second.source.stop(AbortSignal.timeout(5_000)));
      await expect.poll(() => storedSeqs(store), { timeout: 15_000 }).toEqual([1, 2, 3, 4, 5]);
      await expect.poll(async () => count(await broker.readLog(), new RegExp(`Received ${ack} from ${CLIENT_ID} `)), { timeout: 10_000 }).toBe(n);
    });
  }

  it('stops acknowledging when the store fails, reconnects, and stores every message the broker redelivers', async () => {
    const { broker, store, publisher } = await rig();
    const failing = failingQueue(store);
    const { source: s, metrics } = source(failing.buffer, broker.url, 1);
    await s.start();
    closers.push(() => s.stop(AbortSignal.timeout(5_000)));
    await expect.poll(() => s.health().status, { timeout: 10_000 }).toBe('ok');

    const n = 20;
    for (let seq = 1; seq <= n; seq++) await publisher.publishAsync(`devices/th-1/t`, JSON.stringify({ seq, v: seq }), { qos: 1 });
    await expect.poll(() => metrics.get('mqtt_client_reconnects_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(metrics.get('mqtt_client_admission_failures_total')).toBeGreaterThanOrEqual(2);
    expect(count(await broker.readLog(), new RegExp(`Received PUBACK from ${CLIENT_ID} `))).toBe(0);

    failing.state.down = false;
    await expect.poll(() => storedSeqs(store).then((seqs) => [...new Set(seqs)]), { timeout: 15_000 }).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    await expect.poll(() => s.health().status, { timeout: 10_000 }).toBe('ok');
    expect(metrics.snapshot()['mqtt_client_connected{source="mqtt_client:site"}']).toBe(1);
  });
});
