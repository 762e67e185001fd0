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
});
