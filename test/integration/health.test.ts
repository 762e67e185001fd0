import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { controlRequest } from '../../src/control/client.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import type { StatusReport } from '../../src/control/handler.js';
import { Gateway } from '../../src/gateway.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { testConfig } from '../helpers/gateway-harness.js';
import { gatewayBehindFaultProxy } from '../helpers/faulty-kinesis.js';
import type { KinesisFaultProxy } from '../helpers/kinesis-fault-proxy.js';
import { gatewayBehindProxy, type GatewayBehind, type ProxiedKinesis } from '../helpers/proxied-kinesis.js';
import { emulatorClient } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

interface Health {
  status: 'ok' | 'degraded';
  reasons: string[];
  causes: string[];
}

/** /healthz and the control socket's status at one moment: they come from the same model and must agree. */
async function bothViews(gateway: Gateway, dataDir: string): Promise<{ http: Health; httpStatus: number; control: Health }> {
  const res = await fetch(`http://127.0.0.1:${gateway.statusAddress!.port}/healthz`);
  const http = (await res.json()) as Health;
  const report = (await controlRequest(controlSocketPath(dataDir), { op: 'status' })) as StatusReport;
  return { http, httpStatus: res.status, control: report.health as Health };
}

async function healthz(gateway: Gateway): Promise<{ status: number; body: Health }> {
  const res = await fetch(`http://127.0.0.1:${gateway.statusAddress!.port}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

describe('health', () => {
  let rig: ProxiedKinesis | GatewayBehind<KinesisFaultProxy> | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  let stopAlso: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await stopAlso?.();
    stopAlso = undefined;
    vi.unstubAllEnvs();
    await cleanup?.();
  });

  it('an outage degrades /healthz within status.failingAfterMs, and delivery resumes within seconds of the link returning despite a 30 s backoff cap', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindProxy(temp.dir, 'health-outage', {
      shards: 1,
      startCut: true,
      config: { status: { failingAfterMs: 1_000 }, kinesis: { retry: { baseDelayMs: 50, maxDelayMs: 30_000, probeIntervalMs: 1_000 } } },
    });
    const { gateway, proxy, mqttUrl } = rig;
    const outageStarted = Date.now();
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'health-out', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 10; seq++) await client.publishAsync('devices/h-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });

    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 5_000, interval: 50 }).toBe(503);
    const degraded = await bothViews(gateway, temp.dir);
    expect(degraded.httpStatus).toBe(503);
    expect(degraded.http.reasons.join('\n')).toMatch(/kinesis health-outage: every call has failed for \d+ s .*10 readings wait/);
    expect(degraded.http.causes).toContain('sink_failing:kinesis:health-outage');
    expect(degraded.control.status).toBe('degraded');
    expect(degraded.control.causes).toEqual(degraded.http.causes);

    // The backoff has grown past the probe threshold: the sink now probes instead of calling PutRecords.
    await expect.poll(() => gateway.metrics.get('kinesis_probes_total', { outcome: 'failed' }), { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    const outageSeconds = (Date.now() - outageStarted) / 1000;
    const callsDuringOutage = gateway.metrics.get('kinesis_calls_total');
    const probesDuringOutage = gateway.metrics.get('kinesis_probes_total', { outcome: 'failed' });
    // No hot loop: calls follow the exponential backoff, probes come at most once a probe interval.
    expect(callsDuringOutage).toBeLessThan(25);
    expect(probesDuringOutage).toBeLessThanOrEqual(outageSeconds / 1 + 1);
    expect(gateway.metrics.get('readings_delivered_total')).toBe(0);

    await proxy.restore();
    const restoredAt = Date.now();
    await expect.poll(() => gateway.metrics.get('readings_delivered_total'), { timeout: 10_000, interval: 20 }).toBe(10);
    // Within a probe interval and a call, not the up to 30 s the backoff could have waited.
    expect(Date.now() - restoredAt).toBeLessThan(5_000);
    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 5_000, interval: 50 }).toBe(200);
    const recovered = await bothViews(gateway, temp.dir);
    expect(recovered.http).toMatchObject({ status: 'ok', reasons: [], causes: [] });
    expect(recovered.control).toMatchObject({ status: 'ok', reasons: [], causes: [] });
    await client.endAsync();
  }, 60_000);

  it('calls timing out (every request held by the fault proxy) degrade /healthz, and delivery resumes within seconds once answers come back', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const faulty = await gatewayBehindFaultProxy(temp.dir, 'health-silent', {
      shards: 1,
      config: { status: { failingAfterMs: 1_500 }, kinesis: { requestTimeoutMs: 500, retry: { baseDelayMs: 50, maxDelayMs: 30_000, probeIntervalMs: 1_000 } } },
    });
    rig = faulty;
    const { gateway, proxy, mqttUrl } = faulty;
    proxy.setFaults({ blackHole: true });
    const silentFrom = Date.now();
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'health-silent', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 5; seq++) await client.publishAsync('devices/s-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });

    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 8_000, interval: 50 }).toBe(503);
    const degraded = await bothViews(gateway, temp.dir);
    expect(degraded.http.causes).toEqual(['sink_failing:kinesis:health-silent']);
    expect(degraded.http.reasons[0]).toMatch(/every call has failed for \d+ s .*Calls time out/);
    expect(degraded.control.causes).toEqual(degraded.http.causes);

    // Probing starts only once a jittered backoff exceeds 3 s, after about eight calls that each wait out
    // their 500 ms timeout: typically 10-20 s, but on a loaded machine it can take longer, so the wait is long
    // and one failed probe is enough to show the sink probes instead of calling (the bound below shows the pace).
    await expect.poll(() => gateway.metrics.get('kinesis_probes_total', { outcome: 'failed' }), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    const silentSeconds = (Date.now() - silentFrom) / 1000;
    // Bounded: each PutRecords and each probe waited out its timeout; at most one probe per interval.
    expect(proxy.putRecordsCallsBetween(silentFrom, Date.now())).toBeLessThan(25);
    expect(gateway.metrics.get('kinesis_probes_total', { outcome: 'failed' })).toBeLessThanOrEqual(silentSeconds + 1);

    proxy.setFaults({ blackHole: false });
    const answeredAt = Date.now();
    await expect.poll(() => gateway.metrics.get('readings_delivered_total'), { timeout: 10_000, interval: 20 }).toBe(5);
    expect(Date.now() - answeredAt).toBeLessThan(5_000);
    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 5_000, interval: 50 }).toBe(200);
    expect((await bothViews(gateway, temp.dir)).control).toMatchObject({ status: 'ok', causes: [] });
    await client.endAsync();
  }, 100_000);

  it('a full buffer with admissions blocked degrades /healthz, and it recovers once the sink drains it', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindProxy(temp.dir, 'health-full', {
      shards: 1,
      startCut: true,
      config: { buffer: { maxBytes: 1024 * 1024, whenFull: 'block' }, status: { failingAfterMs: 60_000 }, kinesis: { retry: { baseDelayMs: 50, maxDelayMs: 1_000 } } },
    });
    const { gateway, proxy, mqttUrl } = rig;
    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'health-full', reconnectPeriod: 0 });
    const pad = 'x'.repeat(100_000);
    // Fifteen 100 kB readings do not fit in 1 MiB: the last ones wait unacknowledged.
    const acks = Array.from({ length: 15 }, (_, i) => client.publishAsync('devices/full-1/t', JSON.stringify({ seq: i + 1, pad }), { qos: 1 }));

    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 10_000, interval: 50 }).toBe(503);
    const degraded = await bothViews(gateway, temp.dir);
    expect(degraded.http.causes).toContain('buffer_full');
    expect(degraded.http.reasons.join('\n')).toMatch(/the buffer is full \(\d+\.\d% of buffer\.maxBytes, buffer\.whenFull: block\): \d+ admissions wait/);
    expect(degraded.control.causes).toEqual(degraded.http.causes);
    expect(gateway.bufferStats().received).toBeLessThan(15);

    await proxy.restore();
    await Promise.all(acks);
    await expect.poll(() => gateway.bufferStats().delivered, { timeout: 20_000, interval: 50 }).toBe(15);
    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 5_000, interval: 50 }).toBe(200);
    expect((await bothViews(gateway, temp.dir)).control.status).toBe('ok');
    await client.endAsync();
  }, 60_000);

  it('missing AWS credentials degrade /healthz with a reason naming them, and it recovers once they are there', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const emulator: LocalEmulator = await startLocalEmulator('127.0.0.1', 0);
    const kinesis = emulatorClient(emulator.endpoint);
    await ensureStream(kinesis, 'health-creds', 1, AbortSignal.timeout(10_000));
    // An empty standard chain: no keys in the environment, no profile files, no container or instance role.
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(temp.dir, 'no-credentials'));
    vi.stubEnv('AWS_CONFIG_FILE', path.join(temp.dir, 'no-config'));
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    const gateway = await Gateway.start(
      testConfig(path.join(temp.dir, 'data'), { kinesis: { endpoint: emulator.endpoint, streamName: 'health-creds', region: 'us-east-1', retry: { baseDelayMs: 50, maxDelayMs: 500 } } }),
      pino({ level: process.env.TIDEGATE_TEST_LOG ?? 'silent' }),
    );
    stopAlso = async () => {
      await gateway.stop(AbortSignal.timeout(10_000));
      kinesis.destroy();
      await emulator.close();
    };
    const address = gateway.mqttAddresses[0]!;
    const client = await mqtt.connectAsync(`mqtt://${address.host}:${address.port}`, { clientId: 'health-creds', reconnectPeriod: 0 });
    await client.publishAsync('devices/c-1/t', JSON.stringify({ seq: 1, v: 1 }), { qos: 1 });

    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 10_000, interval: 50 }).toBe(503);
    const degraded = await bothViews(gateway, path.join(temp.dir, 'data'));
    expect(degraded.http.causes).toContain('credentials');
    expect(degraded.http.reasons.join('\n')).toMatch(/AWS credentials cannot be loaded/);
    expect(degraded.control.causes).toEqual(degraded.http.causes);

    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    await expect.poll(() => gateway.bufferStats().delivered, { timeout: 10_000, interval: 50 }).toBe(1);
    await expect.poll(async () => (await healthz(gateway)).status, { timeout: 5_000, interval: 50 }).toBe(200);
    await client.endAsync();
  }, 60_000);
});
