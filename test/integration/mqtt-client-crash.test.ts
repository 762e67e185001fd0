import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { crashRig, startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { expectedKeys, startSitePublisher, type SitePublisher } from '../helpers/site-publisher.js';
import { readingKey, waitForReadings } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Resolves once the child logged that it subscribed to the site broker (bounded). */
async function subscribed(child: ChildGateway, after: number): Promise<void> {
  await expect
    .poll(() => child.logs.slice(after).some((l) => l.includes('"msg":"subscribed to site broker"')), { timeout: 20_000, interval: 20 })
    .toBe(true);
}

describe('mqtt_client source: gateway crash', () => {
  let emulator: LocalEmulator | undefined;
  let child: ChildGateway | undefined;
  let broker: Mosquitto | undefined;
  let publisher: SitePublisher | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await publisher?.stop();
    child?.proc.kill('SIGKILL');
    await child?.exited;
    await broker?.stop();
    await emulator?.close();
    await cleanup?.();
  });

  it('after a SIGKILL under load, the site broker redelivers what was not acknowledged: every reading reaches the stream', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    await mkdir(path.join(temp.dir, 'broker'));
    broker = await startMosquitto(path.join(temp.dir, 'broker'));
    const site = `siteBrokers: [{ name: site, url: "${broker.url}", clientId: tidegate-crash, subscriptions: [{ topic: "devices/#", qos: 1 }], reconnect: { minDelayMs: 50, maxDelayMs: 400 } }]`;
    const rig = await crashRig(temp.dir, site);
    emulator = rig.emulator;

    child = await startChildGateway(rig.configFile);
    await subscribed(child, 0);
    const count = 4_000;
    publisher = startSitePublisher(broker.url, { deviceId: 'crash-dev', count, inFlight: 20 });
    // Killed while readings stream through it: some are committed and acknowledged, some committed and not
    // yet acknowledged, some received and not yet committed.
    await expect.poll(() => publisher!.acked.size, { timeout: 30_000, interval: 10 }).toBeGreaterThanOrEqual(1_500);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');
    expect(publisher.acked.size).toBeLessThan(count);
    // The publisher keeps going while tidegate is down: the broker queues for its persistent session.
    await publisher.done;

    child = await startChildGateway(rig.configFile);
    try {
      const { records, lost } = await waitForReadings(rig.kinesis, 'crash-stream', expectedKeys('crash-dev', count), 60_000);
      expect(lost).toEqual([]);
      // At-least-once: what was committed but not yet acknowledged at the kill comes again (a new record id
      // per copy; the device's seq tells them apart), bounded by what can be in flight.
      const duplicates = records.length - new Set(records.map(readingKey)).size;
      expect(duplicates).toBeLessThanOrEqual(3 * 500 + 100);
    } finally {
      rig.kinesis.destroy();
    }
  });
});
