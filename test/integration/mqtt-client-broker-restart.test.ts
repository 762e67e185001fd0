import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { expectedKeys, startSitePublisher, type SitePublisher } from '../helpers/site-publisher.js';
import { emulatorClient, waitForReadings } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const connected = (gateway: Gateway): number => gateway.metrics.snapshot()['mqtt_client_connected{source="mqtt_client:site"}'] ?? 0;

describe('mqtt_client source: site broker restart', () => {
  let gateway: Gateway | undefined;
  let broker: Mosquitto | undefined;
  let publisher: SitePublisher | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await publisher?.stop();
    await gateway?.stop(AbortSignal.timeout(10_000));
    await broker?.stop();
    await cleanup?.();
  });

  it('loses nothing while a QoS 1 publisher keeps publishing through a restart of mosquitto', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    await mkdir(path.join(temp.dir, 'broker'));
    broker = await startMosquitto(path.join(temp.dir, 'broker'));
    ({ gateway } = await startTestGateway(path.join(temp.dir, 'data'), {
      siteBrokers: [
        { name: 'site', url: broker.url, clientId: 'tidegate-restart', subscriptions: [{ topic: 'devices/#', qos: 1 }], reconnect: { minDelayMs: 50, maxDelayMs: 400 } },
      ],
    }));
    await expect.poll(() => connected(gateway!), { timeout: 10_000 }).toBe(1);

    const count = 3_000;
    publisher = startSitePublisher(broker.url, { deviceId: 'restart-dev', count, inFlight: 10 });
    await expect.poll(() => publisher!.acked.size, { timeout: 20_000, interval: 10 }).toBeGreaterThanOrEqual(800);
    // SIGTERM: mosquitto writes its persistence file (sessions, queued messages) on the way out and reads
    // it back at start. (After a SIGKILL it would lose whatever it held since its last autosave: a
    // property of the broker, not of tidegate.)
    await broker.restart();
    expect(publisher.acked.size).toBeLessThan(count);
    await publisher.done;

    const kinesis = emulatorClient(gateway.kinesisEndpoint!);
    try {
      const { lost } = await waitForReadings(kinesis, 'tidegate-telemetry', expectedKeys('restart-dev', count), 45_000);
      expect(lost).toEqual([]);
    } finally {
      kinesis.destroy();
    }
    expect(gateway.metrics.get('mqtt_client_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(connected(gateway)).toBe(1);
  });
});
