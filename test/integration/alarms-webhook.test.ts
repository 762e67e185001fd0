import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { controlRequest } from '../../src/control/client.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import type { LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { conservationGap } from '../../src/buffer/conservation.js';
import { crashRig, startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { acceptedKeys, startWebhookReceiver, until, type Answer, type ReceivedRequest, type WebhookReceiver } from '../helpers/webhook-receiver.js';

type AlarmBody = { id: string; kind: string; result: { transition: string; episode: string | null } };
const body = (r: ReceivedRequest): AlarmBody => JSON.parse(r.body) as AlarmBody;
const RULE = { type: 'detect', rule: 'boiler-hot', field: 't', severity: 'critical', detector: { kind: 'threshold', raise: 80, clear: 75 } };

/**
 * A webhook receiver that answers `answer.now` (503 at first), and a gateway with RULE notifying it with the
 * given webhook settings, plus a device; everything is closed through `closers`.
 */
async function webhookRig(closers: Array<() => Promise<unknown>>, webhook: Record<string, unknown>) {
  const temp = await makeTempDir();
  closers.push(temp.cleanup);
  const answer: { now: Answer } = { now: 503 };
  const receiver = await startWebhookReceiver(() => answer.now);
  closers.push(() => receiver.close());
  const { gateway, mqttUrl } = await startTestGateway(temp.dir, { transforms: [RULE], alarms: { notify: { webhook: { url: receiver.url, ...webhook } } } });
  closers.push(() => gateway.stop(AbortSignal.timeout(10_000)));
  const device = await mqtt.connectAsync(mqttUrl, { clientId: 'th-1', reconnectPeriod: 0 });
  closers.push(() => device.endAsync(true));
  return { temp, answer, receiver, gateway, device };
}

describe('alarm webhook across an outage of the receiver', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('keeps raise, ack and clear in the outbox while the webhook answers 503, then delivers each exactly once per Idempotency-Key, in order', async () => {
    const { temp, answer, receiver, gateway, device } = await webhookRig(closers, { timeoutMs: 2_000, headers: { Authorization: 'Bearer site-token' }, retry: { baseDelayMs: 20, maxDelayMs: 200 } });
    const metric = (name: string, labels?: Record<string, string>) => gateway.metrics.get(name, labels);
    const outbox = () => gateway.metrics.snapshot()['alarm_webhook_outbox'];

    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, t: 90 }), { qos: 1 });
    await receiver.waitFor((r) => r.length >= 3);
    // The raise is refused by the receiver; the ack and the clear buffer up behind it, in the outbox.
    await controlRequest(controlSocketPath(temp.dir), { op: 'alarms.ack', rule: 'boiler-hot', deviceId: 'th-1' });
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 2, t: 70 }), { qos: 1 });
    await until(() => outbox() === 3, 10_000, 'three notifications waiting');
    expect(new Set(receiver.requests.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(metric('alarm_webhook_sent_total')).toBe(0);
    const down = await gateway.progressHealth();
    expect(down.causes).toContain('source:alarm_webhook: failing');
    expect(down.reasons.find((r) => r.startsWith('alarm_webhook'))).toMatch(/3 waiting in the outbox/);

    answer.now = 200;
    await receiver.waitFor((r) => acceptedKeys(r).length === 3, 15_000);
    await until(() => outbox() === 0 && metric('alarm_webhook_sent_total') === 3, 10_000, 'the outbox emptying');

    const accepted = receiver.requests.filter((r) => r.status === 200);
    expect(accepted.map((r) => body(r).result.transition)).toEqual(['raised', 'acknowledged', 'cleared']);
    // Exactly once per key: three keys, each accepted once, each the id of the record it carries.
    expect(new Set(acceptedKeys(receiver.requests)).size).toBe(3);
    for (const r of accepted) expect(r.idempotencyKey).toBe(body(r).id);
    for (const r of accepted) expect(r.headers['authorization']).toBe('Bearer site-token');
    // Anything else the receiver saw was a resend of the first key (refused while it was down).
    const refused = receiver.requests.filter((r) => r.status === 503);
    expect(new Set(refused.map((r) => r.idempotencyKey))).toEqual(new Set([accepted[0]!.idempotencyKey]));
    expect(new Set(accepted.map((r) => body(r).result.episode)).size).toBe(1);

    expect(metric('alarm_webhook_failures_total', { reason: 'status' })).toBe(refused.length);
    expect(metric('alarm_webhook_failures_total', { reason: 'connection' })).toBe(0);
    expect(metric('alarm_webhook_failures_total', { reason: 'timeout' })).toBe(0);
    expect(metric('alarm_webhook_rejected_total')).toBe(0);
    expect(metric('alarm_webhook_sent_total')).toBe(accepted.length);
    // The outbox is not part of the ledger: raise, ack and clear are three produced records, and it balances.
    expect(gateway.bufferStats()).toMatchObject({ received: 2, produced: 3 });
    expect(conservationGap(gateway.bufferStats())).toBe(0);
    expect((await gateway.progressHealth()).causes).not.toContain('source:alarm_webhook: failing');
  });
});

describe('alarm webhook outbox at its bound', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('drops the oldest waiting notification for a new one, counted, and delivers the newest once the webhook is back', async () => {
    const { answer, receiver, gateway, device } = await webhookRig(closers, { maxOutbox: 1, retry: { baseDelayMs: 20, maxDelayMs: 100 } });

    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, t: 90 }), { qos: 1 });
    await receiver.waitFor((r) => r.length >= 1);
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 2, t: 70 }), { qos: 1 });
    await until(() => gateway.metrics.get('alarm_webhook_outbox_dropped_total') === 1, 10_000, 'the raise being dropped for the clear');
    expect(gateway.metrics.snapshot()['alarm_webhook_outbox']).toBe(1);
    // Once the clear is being tried, the dropped raise is never sent again (it is no longer in the outbox).
    const raiseKey = receiver.requests[0]!.idempotencyKey;
    await receiver.waitFor((r) => r.some((x) => x.idempotencyKey !== raiseKey));

    answer.now = 200;
    await receiver.waitFor((r) => acceptedKeys(r).length === 1, 10_000);
    await until(() => gateway.metrics.get('alarm_webhook_sent_total') === 1, 5_000, 'the clear counted as sent');
    const accepted = receiver.requests.filter((r) => r.status === 200);
    expect(accepted.map((r) => body(r).result.transition)).toEqual(['cleared']);
    expect(acceptedKeys(receiver.requests)).not.toContain(raiseKey);
    expect(gateway.metrics.snapshot()['alarm_webhook_outbox']).toBe(0);
  });
});

describe('alarm webhook across a SIGKILL', () => {
  let emulator: LocalEmulator | undefined;
  let child: ChildGateway | undefined;
  let receiver: WebhookReceiver | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    child?.proc.kill('SIGKILL');
    await child?.exited;
    await receiver?.close();
    await emulator?.close();
    await cleanup?.();
  });

  it('a raised alarm whose webhook was down is delivered after the restart, with the key of the attempts before the kill', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    // Down: every connection is dropped before an answer.
    receiver = await startWebhookReceiver(() => 'destroy');
    const rule = [
      'transforms:',
      '  - type: detect',
      '    rule: boiler-hot',
      '    field: t',
      '    detector: { kind: threshold, direction: above, raise: 80, clear: 75 }',
      `alarms: { notify: { webhook: { url: ${JSON.stringify(receiver.url)}, timeoutMs: 2000, retry: { baseDelayMs: 20, maxDelayMs: 200 } } } }`,
    ].join('\n');
    const rig = await crashRig(temp.dir, rule);
    emulator = rig.emulator;
    rig.kinesis.destroy();

    child = await startChildGateway(rig.configFile);
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: 'th-1', reconnectPeriod: 0 });
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, t: 90 }), { qos: 1 });
    device.end(true);
    // Two attempts: the entry was committed (only committed entries are read) and is being retried.
    await receiver.waitFor((r) => r.length >= 2, 15_000);
    const key = receiver.requests[0]!.idempotencyKey;
    expect(key).toMatch(/^crash-gw-\d+$/);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');
    expect(acceptedKeys(receiver.requests)).toEqual([]);

    receiver.setAnswer(() => 200);
    child = await startChildGateway(rig.configFile);
    await receiver.waitFor((r) => acceptedKeys(r).length >= 1, 20_000);
    const accepted = receiver.requests.filter((r) => r.status === 200);
    expect(acceptedKeys(receiver.requests)).toEqual([key]);
    expect(JSON.parse(accepted[0]!.body)).toMatchObject({ id: key, kind: 'alarm', result: { rule: 'boiler-hot', transition: 'raised', state: 'active' } });
    // Every request, before and after the kill, carried the one key: nothing was raised again.
    expect(new Set(receiver.requests.map((r) => r.idempotencyKey))).toEqual(new Set([key]));
  });
});
