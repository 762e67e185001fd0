import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { expectedKeys, startSitePublisher, type SitePublisher } from '../helpers/site-publisher.js';
import { emulatorClient, waitForReadings } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SOURCE = { source: 'mqtt_client:site' };

describe('mqtt_client source: MQTT 5 shared subscription', () => {
  const gateways: Gateway[] = [];
  const publishers: SitePublisher[] = [];
  let broker: Mosquitto | undefined;
  let emulator: LocalEmulator | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    for (const p of publishers.splice(0)) await p.stop();
    for (const g of gateways.splice(0)) await g.stop(AbortSignal.timeout(10_000));
    await broker?.stop();
    await emulator?.close();
    await cleanup?.();
    vi.unstubAllEnvs();
  });

  it('two gateways on $share/tidegate/devices/# each take a share, and together deliver every reading', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    await mkdir(path.join(temp.dir, 'broker'));
    broker = await startMosquitto(path.join(temp.dir, 'broker'));
    emulator = await startLocalEmulator('127.0.0.1', 0);
    const kinesis = emulatorClient(emulator.endpoint);
    await ensureStream(kinesis, 'shared-stream', 2, AbortSignal.timeout(10_000));
    // Not the `local` endpoint, so the standard AWS credential chain applies: the environment is its first link.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');

    for (const n of [1, 2]) {
      const { gateway } = await startTestGateway(path.join(temp.dir, `data-${n}`), {
        gatewayId: `gw-${n}`,
        kinesis: { endpoint: emulator.endpoint, streamName: 'shared-stream', region: 'us-east-1' },
        siteBrokers: [
          {
            name: 'site',
            url: broker.url,
            clientId: `tidegate-shared-${n}`,
            protocolVersion: 5,
            subscriptions: [{ topic: '$share/tidegate/devices/#', qos: 1 }],
            reconnect: { minDelayMs: 50, maxDelayMs: 400 },
          },
        ],
      });
      gateways.push(gateway);
      await expect.poll(() => gateway.metrics.snapshot()['mqtt_client_connected{source="mqtt_client:site"}'], { timeout: 10_000 }).toBe(1);
    }

    const count = 1_000;
    const expected = new Set<string>();
    for (const device of ['shared-a', 'shared-b']) {
      const publisher = startSitePublisher(broker.url, { deviceId: device, count, inFlight: 10 });
      publishers.push(publisher);
      for (const k of expectedKeys(device, count)) expected.add(k);
    }
    await Promise.all(publishers.map((p) => p.done));

    try {
      const { records, lost } = await waitForReadings(kinesis, 'shared-stream', expected, 45_000);
      expect(lost).toEqual([]);
      const received = gateways.map((g) => g.metrics.get('readings_received_total', SOURCE));
      // Each gateway took a share, and each reading went to one of them (no error, no reconnect: no copies).
      for (const r of received) expect(r).toBeGreaterThan(0);
      expect(received[0]! + received[1]!).toBe(2 * count);
      const byGateway = (prefix: string) => records.filter((r) => r.id.startsWith(`${prefix}-`)).length;
      expect(byGateway('gw-1')).toBe(received[0]);
      expect(byGateway('gw-2')).toBe(received[1]);
    } finally {
      kinesis.destroy();
    }
  });
});
