import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('Kinesis outage', () => {
  let gateway: Gateway | undefined;
  let emulator: LocalEmulator | undefined;
  let proxy: TcpProxy | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await proxy?.cut();
    await emulator?.close();
    await cleanup?.();
    vi.unstubAllEnvs();
  });

  it('keeps acknowledging into the buffer while Kinesis is unreachable, and drains when it returns', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    emulator = await startLocalEmulator('127.0.0.1', 0);
    const kinesis = emulatorClient(emulator.endpoint);
    await ensureStream(kinesis, 'outage-stream', 2, AbortSignal.timeout(10_000));
    proxy = new TcpProxy(emulator.port);
    await proxy.start();
    await proxy.cut();

    // A non-local endpoint uses the standard AWS credential chain; the environment is its first link.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const started = await startTestGateway(temp.dir, {
      kinesis: { endpoint: proxy.url, streamName: 'outage-stream', region: 'us-east-1', retry: { baseDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: 2_000 },
    });
    gateway = started.gateway;

    const client = await mqtt.connectAsync(started.mqttUrl, { clientId: 'outage-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 300; seq++) await client.publishAsync('devices/out-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });
    await client.endAsync();

    // Every reading was acknowledged and sits in the buffer; the sink keeps retrying without loss.
    expect(gateway.queueStats().buffered).toBe(300);
    await expect.poll(() => gateway!.metrics.get('kinesis_call_failures_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(gateway.metrics.get('readings_delivered_total')).toBe(0);

    await proxy.restore();
    try {
      const records = await waitForStream(kinesis, 'outage-stream', (r) => r.length >= 300, 30_000);
      expect(new Set(records.map((r) => r.seq)).size).toBe(300);
      expect(records).toHaveLength(300);
    } finally {
      kinesis.destroy();
    }
    await expect.poll(() => gateway!.queueStats().buffered, { timeout: 10_000 }).toBe(0);
  });

  it('after an outage, readings that arrive during the drain overtake the backlog instead of waiting behind it', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    emulator = await startLocalEmulator('127.0.0.1', 0);
    const kinesis = emulatorClient(emulator.endpoint);
    // One shard: the stream's order is the delivery order.
    await ensureStream(kinesis, 'drain-stream', 1, AbortSignal.timeout(10_000));
    proxy = new TcpProxy(emulator.port);
    await proxy.start();
    await proxy.cut();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const started = await startTestGateway(temp.dir, {
      kinesis: { endpoint: proxy.url, streamName: 'drain-stream', region: 'us-east-1', retry: { baseDelayMs: 20, maxDelayMs: 200 }, requestTimeoutMs: 2_000 },
    });
    gateway = started.gateway;

    // A backlog of 20,000 readings (forty PutRecords calls) while Kinesis is unreachable.
    const BACKLOG = 20_000;
    const backlog = await mqtt.connectAsync(started.mqttUrl, { clientId: 'backlog-device', reconnectPeriod: 0 });
    for (let base = 1; base <= BACKLOG; base += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => backlog.publishAsync('devices/old-1/t', JSON.stringify({ seq: base + i, v: 1 }), { qos: 1 })));
    }
    await backlog.endAsync();

    await proxy.restore();
    // Kinesis is back and the drain has begun; readings arriving now are live.
    await expect.poll(() => gateway!.metrics.get('readings_delivered_total'), { timeout: 20_000, interval: 5 }).toBeGreaterThan(0);
    const live = await mqtt.connectAsync(started.mqttUrl, { clientId: 'live-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 20; seq++) await live.publishAsync('devices/new-1/t', JSON.stringify({ seq, v: 2 }), { qos: 1 });
    await live.endAsync();
    const backlogLeftWhenLiveSent = BACKLOG - gateway.metrics.get('readings_delivered_total');

    try {
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
    } finally {
      kinesis.destroy();
    }
    expect(gateway.queueStats().received).toBe(BACKLOG + 20);
    await expect.poll(() => gateway!.queueStats().buffered, { timeout: 10_000 }).toBe(0);
  });
});
