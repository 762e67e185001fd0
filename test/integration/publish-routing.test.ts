import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { openTempLevelBuffer, startBrokerSource } from '../helpers/broker-on-buffer.js';

/**
 * The embedded broker skips routing a device's publish while no client has subscribed (publish-routing.ts),
 * on a real aedes broker and a real LevelDB buffer: readings are stored either way; retained messages and
 * every publish after the first SUBSCRIBE are routed to subscribers as MQTT requires.
 */
describe('publish routing on the embedded broker', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  const reading = (seq: number): string => JSON.stringify({ seq, temperature: 20 + seq });

  it('stores readings without routing them while nobody subscribed, keeps retained ones, and routes everything once a client subscribes', async () => {
    const buffer = await openTempLevelBuffer(closers);
    const { source, url } = await startBrokerSource(buffer, closers);
    const device = await mqtt.connectAsync(url, { clientId: 'th-1', reconnectPeriod: 0 });
    closers.push(() => device.endAsync(true));

    // Nobody has subscribed: acknowledged and stored, not routed.
    await device.publishAsync('devices/th-1/telemetry', reading(1), { qos: 1 });
    await device.publishAsync('devices/th-1/telemetry', reading(2), { qos: 0 });
    // A retained publish is routed even now: the broker must keep it for later subscribers.
    await device.publishAsync('devices/th-1/status', reading(3), { qos: 1, retain: true });
    await expect.poll(() => buffer.read('telemetry', 0, 10).then((r) => r.length)).toBe(3);
    expect(source.publishRouting?.routing).toBe(false);
    expect(source.publishRouting?.unroutedPublishes).toBe(2);

    const observer = await mqtt.connectAsync(url, { clientId: 'observer', reconnectPeriod: 0 });
    closers.push(() => observer.endAsync(true));
    const received: Array<{ topic: string; seq: number; retain: boolean }> = [];
    observer.on('message', (topic, payload, packet) => received.push({ topic, seq: (JSON.parse(payload.toString()) as { seq: number }).seq, retain: packet.retain }));
    await observer.subscribeAsync('devices/th-1/#', { qos: 1 });
    expect(source.publishRouting?.routing).toBe(true);
    await expect.poll(() => received).toEqual([{ topic: 'devices/th-1/status', seq: 3, retain: true }]);

    // After the first SUBSCRIBE, a device's publish reaches the subscriber, and is stored as before.
    await device.publishAsync('devices/th-1/telemetry', reading(4), { qos: 1 });
    await expect.poll(() => received.map((m) => m.seq)).toEqual([3, 4]);
    expect(source.publishRouting?.unroutedPublishes).toBe(2);
    const stored = await buffer.read('telemetry', 0, 10);
    expect(stored.map((r) => (JSON.parse(r.data.toString()) as { seq: number }).seq)).toEqual([1, 2, 3, 4]);
  });
});
