import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { startChildGateway } from '../helpers/child-gateway.js';
import { emulatorClient, readingKey, waitForReadings } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

// A gateway with no kinesis.endpoint finds its endpoint as the AWS SDK would, in the worker thread
// (src/sinks/kinesis/aws-endpoint.ts): here an endpoint configured for the service in the environment,
// AWS_ENDPOINT_URL_KINESIS, pointed at an emulator on loopback, so no call leaves the machine.
describe('a gateway forwarding to "AWS" (no kinesis.endpoint)', () => {
  it('resolves the endpoint in its worker, signs with the keys in its environment, and delivers every acknowledged reading', { timeout: 90_000 }, async () => {
    const temp = await makeTempDir('tidegate-aws-endpoint-');
    cleanups.push(temp.cleanup);
    const emulator = await startLocalEmulator('127.0.0.1', 0);
    cleanups.push(() => emulator.close());
    const kinesis = emulatorClient(emulator.endpoint);
    cleanups.push(async () => kinesis.destroy());
    await ensureStream(kinesis, 'site-telemetry', 1, AbortSignal.timeout(10_000));
    const configFile = path.join(temp.dir, 'tidegate.yaml');
    await writeFile(
      configFile,
      [
        'gatewayId: aws-gw',
        `dataDir: ${JSON.stringify(path.join(temp.dir, 'data'))}`,
        'log: { level: info }',
        'mqtt: { listeners: [{ host: 127.0.0.1, port: 0 }] }',
        'status: { port: 0 }',
        'kinesis: { region: eu-west-1, streamName: site-telemetry, retry: { baseDelayMs: 20, maxDelayMs: 500 } }',
      ].join('\n'),
    );
    const child = await startChildGateway(configFile, 60_000, {
      AWS_ENDPOINT_URL_KINESIS: emulator.endpoint,
      AWS_ACCESS_KEY_ID: 'AKIDGATEWAY',
      AWS_SECRET_ACCESS_KEY: 'gateway-secret',
      // No shared config or credentials file of the machine's user is read.
      AWS_CONFIG_FILE: path.join(temp.dir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(temp.dir, 'no-credentials'),
    });
    cleanups.push(async () => {
      child.proc.kill('SIGKILL');
      await child.exited;
    });
    expect(child.logs.join('\n')).toMatch(/"endpoint":"AWS".*"msg":"forwarding to Amazon Kinesis"/);

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: 'pump-1', reconnectPeriod: 0 });
    cleanups.push(async () => void device.end(true));
    const acked = new Set<string>();
    for (let seq = 1; seq <= 20; seq++) {
      await device.publishAsync('devices/pump-1/telemetry', JSON.stringify({ seq, flow: seq / 10 }), { qos: 1 });
      acked.add(`pump-1#${seq}`);
    }
    const { records, lost } = await waitForReadings(kinesis, 'site-telemetry', acked, 60_000);
    expect(lost).toEqual([]);
    expect(new Set(records.map(readingKey))).toEqual(acked);
  });
});
