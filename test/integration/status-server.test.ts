import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayBehindProxy, type ProxiedKinesis } from '../helpers/proxied-kinesis.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The value of one Prometheus sample line, e.g. `tidegate_ledger_received_total 12`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no sample ${series} in:\n${text.slice(0, 2_000)}`);
  return Number(line.slice(series.length + 1));
}

describe('status server', () => {
  let rig: ProxiedKinesis | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    await cleanup?.();
  });

  it('serves metrics that balance, and health that follows delivery progress', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindProxy(temp.dir, 'status-stream', { shards: 1, config: { status: { maxDeliveryLagMs: 300 }, kinesis: { retry: { baseDelayMs: 20, maxDelayMs: 100 } } } });
    const { gateway, proxy, mqttUrl } = rig;
    const base = `http://127.0.0.1:${gateway.statusAddress!.port}`;

    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'status-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 20; seq++) await client.publishAsync('devices/s-1/t', JSON.stringify({ seq, v: seq }), { qos: 1 });
    await client.publishAsync('devices/s-1/t', 'not json', { qos: 1 });
    await expect.poll(async () => sample(await (await fetch(`${base}/metrics`)).text(), 'tidegate_ledger_delivered_total'), { timeout: 10_000 }).toBe(20);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const received = sample(metrics, 'tidegate_ledger_received_total');
    const delivered = sample(metrics, 'tidegate_ledger_delivered_total');
    const buffered = sample(metrics, 'tidegate_buffer_buffered_readings');
    const deadLettered = sample(metrics, 'tidegate_ledger_dead_lettered_total{reason="invalid_json"}');
    expect(received).toBe(21);
    expect(received).toBe(delivered + buffered + deadLettered);
    expect(sample(metrics, 'tidegate_readings_received_total{source="mqtt_broker"}')).toBe(21);
    expect(metrics).toContain('tidegate_nodejs_eventloop_lag_seconds');
    expect(sample(metrics, 'tidegate_kinesis_put_records_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(1);

    // Kinesis unreachable: readings wait, and once the oldest is older than maxDeliveryLagMs health says so.
    await proxy.cut();
    await client.publishAsync('devices/s-1/t', JSON.stringify({ seq: 21, v: 21 }), { qos: 1 });
    await expect.poll(async () => (await fetch(`${base}/healthz`)).status, { timeout: 10_000, interval: 50 }).toBe(503);
    const degraded = (await (await fetch(`${base}/healthz`)).json()) as { status: string; reasons: string[] };
    expect(degraded.status).toBe('degraded');
    expect(degraded.reasons.join()).toMatch(/oldest undelivered reading is \d+ s old/);

    await proxy.restore();
    await expect.poll(async () => (await fetch(`${base}/healthz`)).status, { timeout: 15_000, interval: 50 }).toBe(200);
    await client.endAsync();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe('live dashboard', () => {
  let rig: ProxiedKinesis | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    await cleanup?.();
  });

  it('serves a self-contained page and streams snapshots with rates, buffer, ledger and devices', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindProxy(temp.dir, 'dash-stream', { shards: 1 });
    const { gateway, mqttUrl } = rig;
    const base = `http://127.0.0.1:${gateway.statusAddress!.port}`;

    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain("new EventSource('/events')");
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\//); // nothing loaded from elsewhere

    const client = await mqtt.connectAsync(mqttUrl, { clientId: 'dash-device', reconnectPeriod: 0 });
    for (let seq = 1; seq <= 5; seq++) await client.publishAsync('devices/dash-7/t', JSON.stringify({ seq, v: seq }), { qos: 1 });
    await client.endAsync();

    // Read server-sent events until a snapshot shows the five readings delivered (bounded by the abort).
    const abort = AbortSignal.timeout(15_000);
    const events = await fetch(`${base}/events`, { signal: abort });
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const reader = events.body!.getReader();
    let buffered = '';
    let snapshot: any;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buffered += Buffer.from(value).toString('utf8');
      const frames = buffered.split('\n\n');
      buffered = frames.pop()!;
      snapshot = frames.map((f) => JSON.parse(f.replace(/^data: /, ''))).find((s) => s.ledger.delivered === 5);
      if (snapshot) break;
    }
    await reader.cancel();
    expect(snapshot).toMatchObject({ gatewayId: 'test-gw', health: { status: 'ok' }, conservationGap: 0, ledger: { received: 5, buffered: 0 } });
    expect(snapshot.devices.recent[0]).toMatchObject({ deviceId: 'dash-7', count: 5 });
    expect(snapshot.kinesis.calls).toBeGreaterThanOrEqual(1);
  });
});
