import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/normalize/reading.js';
import type { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { DurableBuffer } from '../../src/buffer/types.js';
import { openTempLevelBuffer, startBrokerSource } from '../helpers/broker-on-buffer.js';

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
      const inner = await openTempLevelBuffer(closers);
      const gated = gatedQueue(inner);
      const { url } = await startBrokerSource(gated.buffer, closers);

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
