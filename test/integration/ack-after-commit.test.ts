import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { Metrics } from '../../src/core/metrics.js';
import type { Reading } from '../../src/normalize/reading.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { DurableBuffer } from '../../src/buffer/types.js';
import { MqttBrokerSource } from '../../src/sources/mqtt-broker/source.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { mqttAuthSchema, mqttLimitsSchema } from '../../src/sources/mqtt-broker/config.js';

/** A real LevelDB buffer whose appends wait at a gate the test opens: the commit is "held open". */
function gatedQueue(inner: LevelBuffer) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let notifyAppend!: () => void;
  const appendCalled = new Promise<void>((r) => (notifyAppend = r));
  const events: string[] = [];
  const buffer: DurableBuffer = Object.assign(Object.create(inner) as LevelBuffer, {
    append: async (readings: readonly Reading[]) => {
      events.push('append-called');
      notifyAppend();
      await gate;
      await inner.append(readings);
      events.push('committed');
    },
  });
  return { buffer, release, appendCalled, events };
}

describe('durable acknowledgement', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  for (const qos of [1, 2] as const) {
    it(`sends no ${qos === 1 ? 'PUBACK' : 'PUBREC'} for a QoS ${qos} publish until the reading is committed to LevelDB`, async () => {
      const temp = await makeTempDir();
      closers.push(temp.cleanup);
      const inner = new LevelBuffer({ dir: temp.dir, gatewayId: 'gw', durability: 'fsync', commitIntervalMs: 0, maxCommitRecords: 100, sinkIds: ['kinesis'] });
      await inner.open();
      closers.push(() => inner.close());
      const gated = gatedQueue(inner);
      const metrics = new Metrics();
      const logger = pino({ level: 'silent' });
      const admission = new Admission(gated.buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
      const source = new MqttBrokerSource({ listeners: [{ host: '127.0.0.1', port: 0 }], maxPayloadBytes: 1024, auth: mqttAuthSchema.parse({}), limits: mqttLimitsSchema.parse({}), admission, logger, metrics });
      await source.start();
      closers.push(() => source.stop(AbortSignal.timeout(5_000)));
      const url = `mqtt://127.0.0.1:${source.addresses[0]!.port}`;

      const device = await mqtt.connectAsync(url, { clientId: 'held', reconnectPeriod: 0 });
      const observer = await mqtt.connectAsync(url, { clientId: 'observer', reconnectPeriod: 0 });
      closers.push(() => device.endAsync(true), () => observer.endAsync(true));
      const acked = device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, temperature: 21.5 }), { qos }).then(() => {
        gated.events.push('acked');
        // At the moment the device learns of its ack, the reading must already be readable from the store.
        return inner.read('telemetry', 0, 10);
      });

      await gated.appendCalled;
      // While the commit is held, the broker keeps serving other clients: a full QoS 1 round trip from
      // another connection completes, and still the held device has no acknowledgement.
      await observer.publishAsync('other/topic', 'x', { qos: 0 });
      await observer.subscribeAsync('devices/observer/#', { qos: 1 });
      expect(gated.events).toEqual(['append-called']);

      gated.release();
      const storedAtAck = await acked;
      expect(gated.events).toEqual(['append-called', 'committed', 'acked']);
      expect(storedAtAck).toHaveLength(1);
      expect(JSON.parse(storedAtAck[0]!.data.toString())).toMatchObject({ id: 'gw-1', deviceId: 'th-1', seq: 1, values: { temperature: 21.5 } });
    });
  }
});
