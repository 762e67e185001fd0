import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { FakeIotCredentialsEndpoint } from '../helpers/fake-iot-credentials.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { SigV4RecordingProxy } from '../helpers/sigv4-recording-proxy.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { TestPki, type CertFiles } from '../helpers/test-pki.js';

const STREAM = 'iot-creds-stream';
// The SDK (and the provider) renew credentials 5 minutes before they expire.
const RENEW_AHEAD_MS = 5 * 60_000;

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('kinesis.credentials.source: iot, end to end', () => {
  let temp: { dir: string; cleanup(): Promise<void> };
  let pki: TestPki;
  let serverCert: CertFiles;
  let device: CertFiles;
  let emulator: LocalEmulator;
  let fake: FakeIotCredentialsEndpoint;
  let proxy: SigV4RecordingProxy;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    temp = await makeTempDir('tidegate-iot-e2e-');
    pki = await TestPki.create(temp.dir);
    serverCert = await pki.serverCert();
    device = await pki.clientCert('gateway-thing-7');
  }, 30_000);

  afterAll(async () => temp?.cleanup());

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    gateway = undefined;
    await proxy?.close();
    await fake?.close();
    await emulator?.close();
  });

  async function start(dataDir: string): Promise<string> {
    emulator = await startLocalEmulator('127.0.0.1', 0);
    const admin = emulatorClient(emulator.endpoint);
    await ensureStream(admin, STREAM, 1, AbortSignal.timeout(10_000));
    admin.destroy();
    proxy = new SigV4RecordingProxy(emulator.port);
    const proxyUrl = await proxy.start();
    const iotEndpoint = await fake.start(pki, serverCert);
    const started = await startTestGateway(path.join(temp.dir, dataDir), {
      kinesis: {
        endpoint: proxyUrl,
        region: 'us-east-1',
        streamName: STREAM,
        retry: { baseDelayMs: 20, maxDelayMs: 200 },
        credentials: {
          source: 'iot',
          iot: { endpoint: iotEndpoint, roleAlias: 'tidegate-kinesis', thingName: 'gateway-thing-7', certFile: device.certFile, keyFile: device.keyFile, caFile: pki.ca.certFile },
        },
      },
    });
    gateway = started.gateway;
    return started.mqttUrl;
  }

  async function publish(mqttUrl: string, deviceId: string, seq: number): Promise<void> {
    const client = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
    await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ seq, temperature: 20 }), { qos: 1 });
    await client.endAsync();
  }

  it('signs Kinesis calls with the credentials the IoT endpoint issued, and with the renewed ones before they expire', async () => {
    fake = new FakeIotCredentialsEndpoint();
    // The first credentials enter the renewal window 2.5 s after they are issued; the next ones last an hour.
    let firstRenewAt = Infinity;
    fake.answer = (n) => {
      const lifetime = n === 1 ? RENEW_AHEAD_MS + 2_500 : 60 * 60_000;
      if (n === 1) firstRenewAt = Date.now() + 2_500;
      return { status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(Date.now() + lifetime)) };
    };
    const mqttUrl = await start('data-renew');
    const reader = emulatorClient(emulator.endpoint);
    try {
      await publish(mqttUrl, 'dev-a', 1);
      await waitForStream(reader, STREAM, (r) => r.some((x) => x.deviceId === 'dev-a'), 20_000);
      const putsBefore = proxy.requests.filter((r) => r.target?.endsWith('PutRecords'));
      expect(putsBefore.length).toBeGreaterThan(0);
      expect(new Set(putsBefore.map((r) => r.accessKeyId))).toEqual(new Set(['ASIAFAKE1']));
      expect(putsBefore[0]!.sessionToken).toBe('fake-session-token-1-do-not-log');

      // Wait for the clock to reach the renewal point of the first credentials (bounded: 2.5 s after issue).
      await until(() => Date.now() > firstRenewAt + 50, 'the first credentials to enter their renewal window');
      const seen = proxy.requests.length;
      await publish(mqttUrl, 'dev-b', 1);
      const records = await waitForStream(reader, STREAM, (r) => r.some((x) => x.deviceId === 'dev-b'), 20_000);
      expect(records.map((r) => r.deviceId).sort()).toEqual(['dev-a', 'dev-b']);
      const putsAfter = proxy.requests.slice(seen).filter((r) => r.target?.endsWith('PutRecords'));
      expect(putsAfter.length).toBeGreaterThan(0);
      expect(new Set(putsAfter.map((r) => r.accessKeyId))).toEqual(new Set(['ASIAFAKE2']));
      expect(putsAfter[0]!.sessionToken).toBe('fake-session-token-2-do-not-log');
      // One request per renewal, each with the device certificate and the thing name.
      expect(fake.requests).toEqual([
        { method: 'GET', path: '/role-aliases/tidegate-kinesis/credentials', thingName: 'gateway-thing-7', clientCn: 'gateway-thing-7' },
        { method: 'GET', path: '/role-aliases/tidegate-kinesis/credentials', thingName: 'gateway-thing-7', clientCn: 'gateway-thing-7' },
      ]);
    } finally {
      reader.destroy();
    }
  });

  it('keeps readings buffered and reports degraded while the endpoint refuses, then delivers once it issues credentials', async () => {
    fake = new FakeIotCredentialsEndpoint();
    let refuse = true;
    fake.answer = (n) => (refuse ? { status: 403, body: { message: 'Access Denied' } } : { status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(Date.now() + 60 * 60_000)) });
    const mqttUrl = await start('data-refused');
    await publish(mqttUrl, 'dev-c', 1);
    await until(() => gateway!.health().status === 'degraded', 'the gateway to report the refusal');
    expect(gateway!.health().reasons.join(' ')).toMatch(/ERR_AWS_CREDENTIALS: .*HTTP 403 \(Access Denied\); check that the certificate is active and attached to thing "gateway-thing-7"/);
    expect(gateway!.bufferStats().buffered).toBe(1);
    expect(proxy.requests).toHaveLength(0);

    refuse = false;
    const reader = emulatorClient(emulator.endpoint);
    try {
      const records = await waitForStream(reader, STREAM, (r) => r.some((x) => x.deviceId === 'dev-c'), 20_000);
      expect(records.map((r) => r.deviceId)).toEqual(['dev-c']);
      await until(() => gateway!.health().status === 'ok', 'the gateway to recover');
    } finally {
      reader.destroy();
    }
  });
});
