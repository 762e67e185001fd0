import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission.js';
import { validateConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/core/metrics.js';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import { MqttClientSource } from '../../src/sources/mqtt-client/source.js';
import { caCert, clientCert, clientKey, serverCert, serverKey } from '../helpers/device-sim-tls.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const logger = pino({ level: process.env.TIDEGATE_TEST_LOG ?? 'silent' });

describe('mqtt_client source: TLS', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  });

  it('connects over mqtts with the CA and client certificate files, and is refused without the client certificate', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const file = async (name: string, pem: string): Promise<string> => {
      const p = path.join(temp.dir, name);
      await writeFile(p, pem);
      return p;
    };
    const [ca, cert, key, srvCert, srvKey] = await Promise.all([
      file('ca.pem', caCert),
      file('client.pem', clientCert),
      file('client.key', clientKey),
      file('server.pem', serverCert),
      file('server.key', serverKey),
    ]);
    await mkdir(path.join(temp.dir, 'broker'));
    // The TLS settings apply to the listener: mosquitto asks for and verifies a client certificate.
    const broker = await startMosquitto(path.join(temp.dir, 'broker'), { extraConfig: [`cafile ${ca}`, `certfile ${srvCert}`, `keyfile ${srvKey}`, 'require_certificate true'] });
    closers.push(() => broker.stop());
    const url = `mqtts://127.0.0.1:${broker.port}`;

    const sourceFor = async (name: string, tls: Record<string, unknown>) => {
      const config = validateConfig(
        { siteBrokers: [{ name, url, clientId: `tidegate-${name}`, tls, subscriptions: [{ topic: 'devices/#', qos: 1 }], reconnect: { minDelayMs: 50, maxDelayMs: 200 } }] },
        'test config',
      ).siteBrokers[0]!;
      const metrics = new Metrics();
      const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'] }); await buffer.open();
      const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
      const source = new MqttClientSource({ config, admission, logger, metrics });
      closers.push(() => source.stop(AbortSignal.timeout(2_000)));
      return { source, buffer, metrics };
    };
    const withCert = await sourceFor('cert', { caFile: ca, certFile: cert, keyFile: key });
    const withoutCert = await sourceFor('nocert', { caFile: ca });
    await withCert.source.start();
    await withoutCert.source.start();
    await expect.poll(() => withCert.source.health().status, { timeout: 10_000 }).toBe('ok');

    const publisher = await mqtt.connectAsync(url, { clientId: 'device', ca: caCert, cert: clientCert, key: clientKey, reconnectPeriod: 0 });
    closers.push(() => publisher.endAsync(true));
    await publisher.publishAsync('devices/th-1/t', JSON.stringify({ seq: 1, v: 1 }), { qos: 1 });
    await expect.poll(() => withCert.buffer.stats().buffered, { timeout: 10_000 }).toBe(1);

    await expect.poll(() => withoutCert.metrics.get('mqtt_client_reconnects_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(withoutCert.source.health().status).toBe('degraded');
    expect(withoutCert.buffer.stats().buffered).toBe(0);
  });

  it('fails start with the file and key named when a TLS file cannot be read', async () => {
    const config = validateConfig(
      { siteBrokers: [{ name: 'site', url: 'mqtts://127.0.0.1:8883', clientId: 'c', tls: { caFile: '/nonexistent/ca.pem' }, subscriptions: [{ topic: 'devices/#' }] }] },
      'test config',
    ).siteBrokers[0]!;
    const metrics = new Metrics();
    const admission = new Admission(createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'] }), { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
    const source = new MqttClientSource({ config, admission, logger, metrics });
    await expect(source.start()).rejects.toMatchObject({ code: 'ERR_CONFIG_READ', message: expect.stringContaining('siteBrokers "site": cannot read tls.caFile /nonexistent/ca.pem') });
  });
});
