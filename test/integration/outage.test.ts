import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayBehindProxy, type ProxiedKinesis } from '../helpers/proxied-kinesis.js';
import { waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('Kinesis outage', () => {
  let rig: ProxiedKinesis | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    await cleanup?.();
  });

  it('keeps acknowledging into the buffer while Kinesis is unreachable, and drains when it returns', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindProxy(temp.dir, 'outage-stream', { startCut: true });
    const { gateway, proxy, kinesis } = rig;
    const { mqttUrl } = rig;

    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'outage-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 300; seq++) await client.publishAsync('devices/out-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });
    await client.endAsync();

    // Every reading was acknowledged and sits in the buffer; the sink keeps retrying without loss.
    expect(gateway.bufferStats().buffered).toBe(300);
    await expect.poll(() => gateway.metrics.get('kinesis_call_failures_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(gateway.metrics.get('readings_delivered_total')).toBe(0);

    await proxy.restore();
    const records = await waitForStream(kinesis, 'outage-stream', (r) => r.length >= 300, 30_000);
    expect(new Set(records.map((r) => r.seq)).size).toBe(300);
    expect(records).toHaveLength(300);
    await expect.poll(() => gateway.bufferStats().buffered, { timeout: 10_000 }).toBe(0);
  });

  it('after an outage, readings that arrive during the drain overtake the backlog instead of waiting behind it', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    // One shard: the stream's order is the delivery order.
    rig = await gatewayBehindProxy(temp.dir, 'drain-stream', { shards: 1, startCut: true });
    const { gateway, proxy, kinesis } = rig;
    const { mqttUrl } = rig;

    // A backlog of 20,000 readings (forty PutRecords calls) while Kinesis is unreachable.
    const BACKLOG = 20_000;
    const backlog = await mqtt.connectAsync(mqttUrl, { clientId: 'backlog-device', reconnectPeriod: 0 });
    for (let base = 1; base <= BACKLOG; base += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => backlog.publishAsync('devices/old-1/t', JSON.stringify({ seq: base + i, v: 1 }), { qos: 1 })));
    }
    await backlog.endAsync();

    await proxy.restore();
    // Kinesis is back and the drain has begun; readings arriving now are live.
    await expect.poll(() => gateway.metrics.get('readings_delivered_total'), { timeout: 20_000, interval: 5 }).toBeGreaterThan(0);
    const live = await mqtt.connectAsync(mqttUrl, { clientId: 'live-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 20; seq++) await live.publishAsync('devices/new-1/t', JSON.stringify({ seq, v: 2 }), { qos: 1 });
    await live.endAsync();
    const backlogLeftWhenLiveSent = BACKLOG - gateway.metrics.get('readings_delivered_total');

    const records = await waitForStream(kinesis, 'drain-stream', (r) => r.length >= BACKLOG + 20, 60_000);
    expect(records).toHaveLength(BACKLOG + 20);
    const devices = records.map((r) => r.deviceId);
    const lastLive = devices.lastIndexOf('new-1');
    const lastBacklog = devices.lastIndexOf('old-1');
    // The live readings did not wait for the backlog: they went out while most of it was still queued.
    expect(backlogLeftWhenLiveSent).toBeGreaterThan(1_000);
    expect(lastLive).toBeLessThan(lastBacklog - 1_000);
    expect(records.filter((r) => r.deviceId === 'new-1').map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(records.filter((r) => r.deviceId === 'old-1').map((r) => r.seq)).size).toBe(BACKLOG);
    expect(gateway.bufferStats().received).toBe(BACKLOG + 20);
    await expect.poll(() => gateway.bufferStats().buffered, { timeout: 10_000 }).toBe(0);
  });
});
