import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { tidegate } from '../helpers/cli.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const rule = { type: 'detect', rule: 'boiler-hot', field: 't', detector: { kind: 'threshold', raise: 80, clear: 75 } };

describe('tidegate alarms', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('lists, acknowledges and shelves the alarms of a running gateway, and says a stopped one keeps none', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const { gateway, mqttUrl } = await startTestGateway(temp.dir, { transforms: [rule] });
    let running = true;
    closers.push(async () => running && gateway.stop(AbortSignal.timeout(10_000)));
    // The CLI finds the gateway through the control socket in the data dir its config names.
    const configFile = path.join(temp.dir, 'cli.yaml');
    await writeFile(configFile, `dataDir: ${JSON.stringify(temp.dir)}\ntransforms:\n  - ${JSON.stringify(rule)}\n`);
    const device = await mqtt.connectAsync(mqttUrl, { clientId: 'th-1', reconnectPeriod: 0 });
    closers.push(() => device.endAsync(true));
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ t: 91 }), { qos: 1 });
    await device.publishAsync('devices/th-2/telemetry', JSON.stringify({ t: 20 }), { qos: 1 });

    const listed = await tidegate('alarms', 'list', '--config', configFile);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^boiler-hot\/th-1 {2}active {2}major {2}threshold value 91 threshold 80/);
    expect((await tidegate('alarms', 'ack', 'boiler-hot', 'th-1', '--config', configFile)).stdout).toBe('acknowledged boiler-hot/th-1\n');
    const shelved = await tidegate('alarms', 'shelve', 'boiler-hot', 'th-2', '--for', '1h', '--config', configFile);
    expect(shelved.stdout).toMatch(/^shelved boiler-hot\/th-2 until \d{4}-/);
    const json = (await tidegate('alarms', 'list', '--json', '--config', configFile)).stdout.trim().split('\n').map((l) => JSON.parse(l) as { deviceId: string; state: string });
    expect(json.map((a) => [a.deviceId, a.state])).toEqual([
      ['th-1', 'active-acknowledged'],
      ['th-2', 'inactive'],
    ]);
    const wrong = await tidegate('alarms', 'ack', 'boiler-hot', 'th-2', '--config', configFile);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/nothing to acknowledge/);

    await gateway.stop(AbortSignal.timeout(10_000));
    running = false;
    const stopped = await tidegate('alarms', 'list', '--config', configFile);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toMatch(/alarms are kept by a running gateway: start it/);
  });
});
