import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway, type ConfigDoc } from '../helpers/gateway-harness.js';
import { closesWithin, rawConnack, rawConnect } from '../helpers/raw-mqtt.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('embedded broker: limits (mqtt.limits)', () => {
  let gateway: Gateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  const start = async (limits: ConfigDoc): Promise<number> => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    gateway = (await startTestGateway(temp.dir, { mqtt: { limits } })).gateway;
    return gateway.mqttAddresses[0]!.port;
  };

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    gateway = undefined;
    await cleanup?.();
  });

  it('closes connections beyond maxConnections as soon as they are accepted, and counts them', async () => {
    const port = await start({ maxConnections: 3 });
    const held = await Promise.all([1, 2, 3].map(async (i) => (await rawConnack(port, { clientId: `held-${i}` })).conn));
    const extra = await rawConnect(port);
    expect(await closesWithin(extra, 2_000)).toBe(true);
    expect(gateway!.metrics.get('mqtt_refused_total', { reason: 'max_connections' })).toBe(1);
    held[0]!.end();
    await held[0]!.closed;
    // A place is free again once a connection has gone.
    await expect.poll(async () => (await rawConnack(port, { clientId: 'after' })).returnCode, { timeout: 5_000 }).toBe(0);
    for (const c of held) c.end();
  });

  it('applies maxKeepaliveSeconds to a keepalive of 0 or above it: a silent client is closed after 1.5 times it', async () => {
    const port = await start({ maxKeepaliveSeconds: 1 });
    const { returnCode, conn } = await rawConnack(port, { clientId: 'no-keepalive', keepalive: 0 });
    expect(returnCode).toBe(0);
    const t0 = Date.now();
    expect(await closesWithin(conn, 5_000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    const high = await rawConnack(port, { clientId: 'long-keepalive', keepalive: 600 });
    expect(await closesWithin(high.conn, 5_000)).toBe(true);
    expect(gateway!.metrics.get('mqtt_keepalive_adjusted_total')).toBe(2);
  });

  it('refuses topics over maxTopicBytes or maxTopicLevels: a publish closes the connection, a subscription gets 0x80', async () => {
    const port = await start({ maxTopicBytes: 40, maxTopicLevels: 4 });
    const sub = await rawConnack(port, { clientId: 'sub' });
    sub.conn.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b/c/d/e', qos: 0 }, { topic: `a/${'x'.repeat(40)}`, qos: 0 }, { topic: 'a/b/c/#', qos: 0 }] });
    expect(((await sub.conn.next('suback')) as { granted: number[] }).granted).toEqual([0x80, 0x80, 0]);

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'deep', reconnectPeriod: 0 });
    await device.publishAsync('devices/deep/t', JSON.stringify({ v: 1 }), { qos: 1 });
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('devices/deep/a/b/c', JSON.stringify({ v: 2 }), { qos: 1 });
    await closed;
    device.end(true);
    expect(gateway!.metrics.get('mqtt_refused_total', { reason: 'topic_too_many_levels' })).toBe(2);
    expect(gateway!.metrics.get('mqtt_refused_total', { reason: 'topic_too_long' })).toBe(1);
    expect(gateway!.bufferStats().received).toBe(1);
    sub.conn.end();
  });

  it('paces a client over publishRate by delaying its acknowledgements, without refusing anything', async () => {
    const port = await start({ publishRate: { perSecond: 20, burst: 5 } });
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'chatty', reconnectPeriod: 0 });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 25 }, (_, i) => device.publishAsync('devices/chatty/t', JSON.stringify({ seq: i + 1, v: i }), { qos: 1 })));
    const elapsed = performance.now() - t0;
    await device.endAsync();
    // 5 at once from the burst, the other 20 at 20 per second: about one second.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(gateway!.bufferStats().received).toBe(25);
    expect(gateway!.metrics.get('mqtt_publish_delayed_total')).toBeGreaterThanOrEqual(15);
  });
});
