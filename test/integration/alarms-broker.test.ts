import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password-hash.js';
import { writeUsersFile } from '../../src/auth/users-file.js';
import { controlRequest } from '../../src/control/client.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import { conservationGap } from '../../src/buffer/conservation.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Messages a client receives, awaited one by one with a timeout (no sleeps). */
function inbox(client: MqttClient) {
  const buffer: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    buffer.push({ topic, payload, retain: packet.retain });
    waiters.splice(0).forEach((w) => w());
  });
  return {
    buffer,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (buffer.length === 0) {
        if (Date.now() > deadline) throw new Error('no message within the timeout');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return buffer.shift()!;
    },
  };
}

describe('alarms: retained notification on the embedded broker, operator commands', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('publishes a raised alarm retained to authorised subscribers only, updates it on ack, empties it on clear', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const usersFile = path.join(temp.dir, 'users');
    await writeUsersFile(usersFile, [{ username: 'controller', hash: await hashPassword(Buffer.from('pw-controller!')) }]);
    const { gateway } = await startTestGateway(temp.dir, {
      mqtt: {
        listeners: [{ host: '127.0.0.1', port: 0, allowAnonymous: true }],
        auth: { usersFile, acl: { subscribe: ['tidegate/alarms/#'], publish: [] }, anonymous: { publish: ['devices/+/telemetry'], subscribe: ['devices/#'] } },
      },
      transforms: [{ type: 'detect', rule: 'boiler-hot', field: 't', severity: 'critical', detector: { kind: 'threshold', raise: 80, clear: 75 } }],
    });
    closers.push(() => gateway.stop(AbortSignal.timeout(10_000)));
    const url = `mqtt://127.0.0.1:${gateway.mqttAddresses[0]!.port}`;
    const device = await mqtt.connectAsync(url, { clientId: 'th-1', reconnectPeriod: 0 });
    closers.push(() => device.endAsync(true));

    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, t: 90 }), { qos: 1 });

    const controller = await mqtt.connectAsync(url, { clientId: 'ctl', username: 'controller', password: 'pw-controller!', reconnectPeriod: 0 });
    closers.push(() => controller.endAsync(true));
    const ctl = inbox(controller);
    expect((await controller.subscribeAsync('tidegate/alarms/#', { qos: 1 }))[0]!.qos).toBe(1);
    const retained = await ctl.next();
    expect(retained.topic).toBe('tidegate/alarms/boiler-hot/th-1');
    expect(retained.retain).toBe(true);
    expect(JSON.parse(retained.payload.toString())).toMatchObject({ kind: 'alarm', deviceId: 'th-1', result: { rule: 'boiler-hot', transition: 'raised', state: 'active', severity: 'critical', value: 90, threshold: 80 } });

    // Anonymous clients may subscribe to devices/# only: the alarm topic is refused (SUBACK 0x80) and nothing arrives.
    const outsider = await mqtt.connectAsync(url, { clientId: 'outsider', reconnectPeriod: 0 });
    closers.push(() => outsider.endAsync(true));
    const out = inbox(outsider);
    // MQTT.js rejects a subscription the broker answered with 0x80.
    await expect(outsider.subscribeAsync('tidegate/alarms/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);

    // The dashboard's snapshot lists the raised alarm (the Alarms card).
    const status = gateway.statusAddress!;
    const abort = AbortSignal.timeout(10_000);
    const events = await fetch(`http://${status.host}:${status.port}/events`, { signal: abort });
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const snapshot = JSON.parse(text.split('\n\n')[0]!.replace(/^data: /, '')) as { alarms: unknown[] };
    expect(snapshot.alarms).toMatchObject([{ rule: 'boiler-hot', deviceId: 'th-1', state: 'active', severity: 'critical' }]);

    const socket = controlSocketPath(temp.dir);
    expect(await controlRequest(socket, { op: 'alarms.list' })).toMatchObject([{ rule: 'boiler-hot', deviceId: 'th-1', state: 'active' }]);
    expect(await controlRequest(socket, { op: 'alarms.ack', rule: 'boiler-hot', deviceId: 'th-1' })).toEqual({ acknowledged: 'boiler-hot/th-1' });
    const acked = await ctl.next();
    expect(JSON.parse(acked.payload.toString())).toMatchObject({ result: { transition: 'acknowledged', state: 'active-acknowledged' } });
    await expect(controlRequest(socket, { op: 'alarms.ack', rule: 'boiler-hot', deviceId: 'th-1' })).rejects.toThrow(/nothing to acknowledge/);
    await expect(controlRequest(socket, { op: 'alarms.ack', rule: 'nope', deviceId: 'th-1' })).rejects.toThrow(/no alarm rule "nope"/);

    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 2, t: 70 }), { qos: 1 });
    const cleared = await ctl.next();
    expect(cleared.topic).toBe('tidegate/alarms/boiler-hot/th-1');
    expect(cleared.payload.length).toBe(0);
    expect(out.buffer).toEqual([]);
    expect(await controlRequest(socket, { op: 'alarms.list' })).toEqual([]);

    // A new subscriber finds nothing retained: the clear replaced the alarm.
    const late = await mqtt.connectAsync(url, { clientId: 'ctl-2', username: 'controller', password: 'pw-controller!', reconnectPeriod: 0 });
    closers.push(() => late.endAsync(true));
    const lateInbox = inbox(late);
    await late.subscribeAsync('tidegate/alarms/#', { qos: 1 });
    await expect(lateInbox.next(500)).rejects.toThrow(/no message/);

    // raised, acknowledged and cleared are three produced records; the ledger balances.
    const stats = gateway.bufferStats();
    expect(stats).toMatchObject({ received: 2, produced: 3 });
    expect(conservationGap(stats)).toBe(0);
    expect(gateway.metrics.get('alarm_transitions_total', { rule: 'boiler-hot', severity: 'critical', transition: 'acknowledged' })).toBe(1);
  });
});
