import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startPtyPair, type PtyPair } from '../helpers/device-sim-pty.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { PtyWriter } from '../helpers/pty-writer.js';
import { emulatorClient, waitForReadings } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

async function publishQos1(url: string, clientId: string, topicOf: (i: number) => string, count: number): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 });
  try {
    for (let i = 1; i <= count; i++) await client.publishAsync(topicOf(i), JSON.stringify({ seq: i, v: i }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

describe('several sources in one gateway', () => {
  it('takes readings from its own broker, a site broker and a serial port at once, each counted under its source', { timeout: 60_000 }, async () => {
    const temp = await makeTempDir('tidegate-sources-');
    cleanups.push(temp.cleanup);
    const site: Mosquitto = await startMosquitto(temp.dir, { quiet: true });
    cleanups.push(() => site.stop());
    const pty: PtyPair = await startPtyPair(temp.dir);
    cleanups.push(() => pty.close());

    const { gateway, mqttUrl }: { gateway: Gateway; mqttUrl: string } = await startTestGateway(`${temp.dir}/data`, {
      siteBrokers: [{ name: 'plant', url: site.url, clientId: 'tidegate-several', subscriptions: [{ topic: 'site/#', qos: 1 }], topicTemplate: 'site/{deviceId}/#' }],
      serial: [{ path: pty.b, name: 'rs485', baudRate: 115_200, framing: 'jsonl', reopen: { baseDelayMs: 50, maxDelayMs: 300 } }],
    });
    cleanups.push(() => gateway.stop(AbortSignal.timeout(10_000)));
    await expect.poll(() => gateway.health().status, { timeout: 15_000 }).toBe('ok');

    const writer = await PtyWriter.open(pty.a);
    cleanups.push(() => writer.close());
    await Promise.all([
      publishQos1(mqttUrl, 'local-1', (i) => `devices/local-1/telemetry`, 40),
      publishQos1(site.url, 'site-pub', () => 'site/site-1/telemetry', 30),
      writer.write(Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ deviceId: 'serial-1', seq: i + 1, v: i })}\n`).join('')),
    ]);

    const expected = new Set([
      ...Array.from({ length: 40 }, (_, i) => `local-1#${i + 1}`),
      ...Array.from({ length: 30 }, (_, i) => `site-1#${i + 1}`),
      ...Array.from({ length: 20 }, (_, i) => `serial-1#${i + 1}`),
    ]);
    const kinesis = emulatorClient(gateway.kinesisEndpoint!);
    cleanups.push(async () => kinesis.destroy());
    const { lost } = await waitForReadings(kinesis, 'tidegate-telemetry', expected, 30_000);
    expect(lost).toEqual([]);
    const received = (source: string) => gateway.metrics.get('readings_received_total', { source });
    expect(received('mqtt_broker')).toBe(40);
    expect(received('mqtt_client:plant')).toBe(30);
    expect(received('serial:rs485')).toBe(20);
    expect(gateway.bufferStats().received).toBe(90);
  });
});
