import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { applyEnvOverrides, validateConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/core/metrics.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import { MqttClientSource } from '../../src/sources/mqtt-client/source.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { childEnv } from '../helpers/child-env.js';

const PASSWORD = 's3cret-site-pw';

describe('mqtt_client source: credentials', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  });

  it('takes the password from the environment, logs it nowhere, and reports a refusal as degraded with an ERROR', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const passwordFile = path.join(temp.dir, 'passwd');
    execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', passwordFile, 'tidegate', PASSWORD], { env: childEnv() });
    await mkdir(path.join(temp.dir, 'broker'));
    const broker = await startMosquitto(path.join(temp.dir, 'broker'), { passwordFile });
    closers.push(() => broker.stop());

    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) }));
    const sourceFor = async (name: string, env: NodeJS.ProcessEnv) => {
      const doc = { siteBrokers: [{ name, url: broker.url, clientId: `tidegate-${name}`, username: 'tidegate', subscriptions: [{ topic: 'devices/#', qos: 1 }], reconnect: { minDelayMs: 50, maxDelayMs: 200 } }] };
      const config = validateConfig(applyEnvOverrides(doc, env), 'test config').siteBrokers[0]!;
      const metrics = new Metrics();
      const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'] }); await buffer.open();
      const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
      const source = new MqttClientSource({ config, admission, logger, metrics });
      closers.push(() => source.stop(AbortSignal.timeout(2_000)));
      return { source, buffer };
    };

    const good = await sourceFor('good', { TIDEGATE_SITE_BROKER_GOOD_PASSWORD: PASSWORD });
    const bad = await sourceFor('bad', { TIDEGATE_SITE_BROKER_BAD_PASSWORD: 'wrong-password' });
    await good.source.start();
    await bad.source.start();
    await expect.poll(() => good.source.health().status, { timeout: 10_000 }).toBe('ok');

    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'device', username: 'tidegate', password: PASSWORD, reconnectPeriod: 0 });
    closers.push(() => publisher.endAsync(true));
    await publisher.publishAsync('devices/th-1/t', JSON.stringify({ seq: 1, v: 1 }), { qos: 1 });
    await expect.poll(() => good.buffer.stats().buffered, { timeout: 10_000 }).toBe(1);

    await expect.poll(() => lines.some((l) => l.includes('the site broker refused tidegate')), { timeout: 10_000 }).toBe(true);
    const refusal = JSON.parse(lines.find((l) => l.includes('the site broker refused tidegate'))!) as { level: number; problem: string };
    expect(refusal.level).toBe(50);
    expect(refusal.problem).toMatch(/not authori[sz]ed|bad user ?name or password/i);
    expect(bad.source.health()).toMatchObject({ status: 'degraded', reasons: [expect.stringMatching(/^mqtt_client:bad: not connected to mqtt:\/\/127\.0\.0\.1:\d+: /)] });
    expect(bad.buffer.stats().buffered).toBe(0);
    const log = lines.join('');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain('wrong-password');
  });
});
