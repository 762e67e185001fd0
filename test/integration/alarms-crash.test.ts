import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { crashRig, startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { waitForStream, type StreamRecord } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

type AlarmRecord = StreamRecord & { kind?: string; result?: { transition: string; episode: string; state: string } };
const alarmsIn = (records: StreamRecord[]): AlarmRecord[] => (records as AlarmRecord[]).filter((r) => r.kind === 'alarm');

const RULE = [
  'transforms:',
  '  - type: detect',
  '    rule: boiler-hot',
  '    field: t',
  '    detector: { kind: threshold, direction: above, raise: 80, clear: 75 }',
].join('\n');

describe('alarms across a SIGKILL', () => {
  let emulator: LocalEmulator | undefined;
  let child: ChildGateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    child?.proc.kill('SIGKILL');
    await child?.exited;
    await emulator?.close();
    await cleanup?.();
  });

  it('an active alarm is not raised again after the restart, is republished retained, and its clear reaches the stream', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const rig = await crashRig(temp.dir, RULE);
    emulator = rig.emulator;
    const { kinesis, configFile } = rig;

    child = await startChildGateway(configFile);
    let device = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: 'th-1', reconnectPeriod: 0 });
    await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 1, t: 90 }), { qos: 1 });
    const raisedFirst = await waitForStream(kinesis, 'crash-stream', (r) => alarmsIn(r).length >= 1);
    const [raised] = alarmsIn(raisedFirst);
    expect(raised!.result).toMatchObject({ transition: 'raised', state: 'active' });
    device.end(true);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');

    child = await startChildGateway(configFile);
    try {
      // The restored alarm is retained on the broker again (the broker's retained messages died with it).
      const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: 'ctl', reconnectPeriod: 0 });
      const retained = new Promise<Buffer>((resolve) => watcher.once('message', (_topic, payload) => resolve(payload)));
      await watcher.subscribeAsync('tidegate/alarms/#', { qos: 1 });
      expect(JSON.parse((await retained).toString())).toMatchObject({ result: { transition: 'raised', episode: raised!.result!.episode } });
      await watcher.endAsync(true);

      device = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: 'th-1', reconnectPeriod: 0 });
      await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 2, t: 95 }), { qos: 1 });
      await device.publishAsync('devices/th-1/telemetry', JSON.stringify({ seq: 3, t: 70 }), { qos: 1 });
      await device.endAsync(true);
      const records = await waitForStream(kinesis, 'crash-stream', (r) => alarmsIn(r).some((a) => a.result?.transition === 'cleared') && r.some((x) => x.seq === 3));
      const alarms = alarmsIn(records);
      // One raise (a resend of the same record after the kill keeps its id), one clear of the same episode.
      expect(new Set(alarms.filter((a) => a.result?.transition === 'raised').map((a) => a.id)).size).toBe(1);
      const cleared = alarms.filter((a) => a.result?.transition === 'cleared');
      expect(cleared).toHaveLength(1);
      expect(cleared[0]!.result!.episode).toBe(raised!.result!.episode);
    } finally {
      kinesis.destroy();
    }
  });
});
