import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { crashRig, startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { waitForStream, type StreamRecord } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// One-minute tumbling windows on event time, 5 s of allowed lateness (the default).
const WINDOW = `transforms:
  - type: window
    name: minute
    kind: tumbling
    sizeMs: 60000
    fields: [v]
    aggregates: [count, sum, min, max]`;

// The same window as a stage of a rule, after a stateless stage: its state is checkpointed inside the rule's.
const RULE = `rules:
  - name: minute
    match: { devices: ["win-*"] }
    stages:
      - type: filter
        expr: v >= 0.0
      - type: window
        kind: tumbling
        sizeMs: 60000
        fields: [v]
        aggregates: [count, sum, min, max]
    raw: drop`;

interface Aggregate extends StreamRecord {
  kind: string;
  result: { rule: string; window: { start: number; end: number }; count: number; key: Record<string, unknown> };
}

const aggregatesOf = (records: StreamRecord[]): Aggregate[] => {
  const byId = new Map<string, Aggregate>();
  for (const r of records as Aggregate[]) if (r.kind === 'aggregate') byId.set(r.id, r);
  return [...byId.values()];
};

/** A 1 Hz sensor replayed: reading i has ts = t0 + i s and value i; each publish waits for its PUBACK. */
async function publish(port: number, t0: number, from: number, to: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'win-sensor', reconnectPeriod: 0 });
  try {
    for (let i = from; i <= to; i++) {
      await client.publishAsync('devices/win-1/telemetry', JSON.stringify({ ts: t0 + i * 1_000, seq: i + 1, v: i }), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

const sum = (from: number, to: number): number => ((from + to) * (to - from + 1)) / 2;

describe.each([
  ['a window transform', WINDOW],
  ['a window stage of a rule', RULE],
])('window state across a SIGKILL: %s', (_name, config) => {
  let emulator: LocalEmulator | undefined;
  let child: ChildGateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    child?.proc.kill('SIGKILL');
    await child?.exited;
    await emulator?.close();
    await cleanup?.();
  });

  it('the window open at the kill is emitted after the restart exactly as an uninterrupted run would emit it', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const rig = await crashRig(temp.dir, config);
    emulator = rig.emulator;
    const { kinesis, configFile } = rig;
    // Event time ten minutes back, aligned to a minute: windows [t0, t0+60 s), [t0+60 s, t0+120 s), ...
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;

    child = await startChildGateway(configFile);
    // Readings 0..89: the first window closes once reading 65 moves the watermark past its end; the second
    // holds 60..89 when the gateway is killed.
    await publish(child.mqttPort, t0, 0, 89);
    const first = await waitForStream(kinesis, 'crash-stream', (rs) => aggregatesOf(rs).length >= 1);
    expect(aggregatesOf(first).map((a) => a.result.window.start)).toEqual([t0]);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');

    child = await startChildGateway(configFile);
    // The device sends 85..89 again, as a QoS 1 device does when the PUBACKs were lost in the crash (they
    // were committed and are in the window already), then 90..130; reading 125 closes the second window.
    await publish(child.mqttPort, t0, 85, 130);
    const records = await waitForStream(kinesis, 'crash-stream', (rs) => aggregatesOf(rs).length >= 2);
    const aggregates = aggregatesOf(records).sort((a, b) => a.result.window.start - b.result.window.start);
    try {
      // One aggregate per window (a redelivery keeps its id), and each equals the uninterrupted result:
      // the 30 readings taken before the kill came back from the checkpoint, and the five sent again were
      // recognised as resends (the resend guard; without it the count is 65), so none is counted twice.
      expect(aggregates.map((a) => [a.result.window.start, a.result.count, a.values])).toEqual([
        [t0, 60, { v_count: 60, v_sum: sum(0, 59), v_min: 0, v_max: 59 }],
        [t0 + 60_000, 60, { v_count: 60, v_sum: sum(60, 119), v_min: 60, v_max: 119 }],
      ]);
      expect(aggregates.every((a) => a.deviceId === 'win-1' && a.result.rule === 'minute')).toBe(true);
      // The readings themselves were consumed into the windows: none of them is in the stream.
      expect(records.filter((r) => (r as Aggregate).kind === 'reading')).toEqual([]);
      expect(child.logs.join('\n')).toMatch(/transform state restored from the buffer/);
    } finally {
      kinesis.destroy();
    }
  });
});
