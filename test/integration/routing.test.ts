import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { FirehoseFake } from '../helpers/firehose-fake.js';
import { emulatorClient, readWholeStream, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
  vi.unstubAllEnvs();
});

async function publishAll(mqttUrl: string, messages: Array<{ topic: string; seq: number }>): Promise<void> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: 'router-test', reconnectPeriod: 0 });
  try {
    for (const m of messages) await client.publishAsync(m.topic, JSON.stringify({ seq: m.seq, v: m.seq }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

async function rig(firehose: FirehoseFake) {
  const temp = await makeTempDir('tidegate-routing-');
  cleanups.push(temp.cleanup);
  // The Firehose endpoint is not the bundled emulator: its client takes credentials from the environment.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  const { gateway, mqttUrl } = await startTestGateway(temp.dir, {
    kinesis: { streamName: 'main' },
    firehose: { endpoint: firehose.url, region: 'us-east-1' },
    routes: [
      { match: { deviceId: 'alarm-*' }, kinesis: 'alarms' },
      { match: { topic: 'devices/+/archive' }, firehose: 'archive' },
    ],
  });
  cleanups.push(() => gateway.stop(AbortSignal.timeout(10_000)));
  return { gateway, mqttUrl, kinesis: emulatorClient(gateway.kinesisEndpoint!) };
}

describe('routing', () => {
  it('sends each reading to the first matching destination: another stream, Firehose, or the default stream', { timeout: 60_000 }, async () => {
    const firehose = new FirehoseFake();
    firehose.streams.add('archive');
    await firehose.start();
    cleanups.push(() => firehose.close());
    const { gateway, mqttUrl, kinesis } = await rig(firehose);
    cleanups.push(async () => kinesis.destroy());

    const messages = Array.from({ length: 90 }, (_, i) => ({ topic: ['devices/alarm-1/telemetry', 'devices/meter-1/archive', 'devices/th-1/telemetry'][i % 3]!, seq: i }));
    await publishAll(mqttUrl, messages);

    await expect.poll(() => gateway.bufferStats().delivered, { timeout: 30_000 }).toBe(90);
    const alarms = await readWholeStream(kinesis, 'alarms');
    const main = await readWholeStream(kinesis, 'main');
    const archived = firehose.records('archive').map((b) => b.toString('utf8'));
    expect(alarms.map((r) => r.deviceId)).toEqual(Array(30).fill('alarm-1'));
    expect(main.map((r) => r.deviceId)).toEqual(Array(30).fill('th-1'));
    // JSON lines for S3, each the record a Kinesis consumer would see.
    expect(archived).toHaveLength(30);
    expect(archived.every((line) => line.endsWith('\n'))).toBe(true);
    expect(archived.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual(messages.filter((m) => m.topic.endsWith('/archive')).map((m) => m.seq));
    const snapshot = gateway.metrics.snapshot();
    expect(snapshot['route_records_total{destination="firehose:archive"}']).toBe(30);
    expect(snapshot['route_records_total{destination="kinesis:alarms"}']).toBe(30);
    expect(gateway.metrics.get('kinesis_records_total')).toBe(30);
  });

  it('resends exactly the Firehose records refused in a partial failure', { timeout: 60_000 }, async () => {
    const firehose = new FirehoseFake();
    firehose.streams.add('archive');
    firehose.failShare = 0.3;
    await firehose.start();
    cleanups.push(() => firehose.close());
    const { gateway, mqttUrl, kinesis } = await rig(firehose);
    cleanups.push(async () => kinesis.destroy());

    await publishAll(mqttUrl, Array.from({ length: 60 }, (_, seq) => ({ topic: 'devices/meter-2/archive', seq })));
    await expect.poll(() => firehose.records('archive').length, { timeout: 30_000 }).toBe(60);
    firehose.failShare = 0;
    const seqs = firehose.records('archive').map((b) => (JSON.parse(b.toString('utf8')) as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(60);
    expect(gateway.metrics.get('route_entry_failures_total')).toBeGreaterThan(0);
    await expect.poll(() => gateway.bufferStats().buffered, { timeout: 10_000 }).toBe(0);
  });

  it('reports a missing delivery stream as needing an operator, keeps its readings, and delivers once it exists', { timeout: 60_000 }, async () => {
    const firehose = new FirehoseFake();
    await firehose.start();
    cleanups.push(() => firehose.close());
    const { gateway, mqttUrl, kinesis } = await rig(firehose);
    cleanups.push(async () => kinesis.destroy());

    await publishAll(mqttUrl, [
      { topic: 'devices/meter-3/archive', seq: 1 },
      { topic: 'devices/th-3/telemetry', seq: 2 },
    ]);
    // The default stream is not held up by the broken route.
    await waitForStream(kinesis, 'main', (r) => r.length === 1, 20_000);
    await expect.poll(() => gateway.health().reasons.join('\n'), { timeout: 20_000 }).toMatch(/firehose archive ResourceNotFoundException: the delivery stream does not exist/);
    expect(gateway.bufferStats().buffered).toBe(1);

    firehose.streams.add('archive');
    // Operator failures are probed at kinesis.retry.maxDelayMs (500 ms in tests).
    await expect.poll(() => firehose.records('archive').length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => gateway.health().status, { timeout: 10_000 }).toBe('ok');
    expect(gateway.bufferStats().buffered).toBe(0);
  });
});
