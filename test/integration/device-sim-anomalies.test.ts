import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTruth, type TruthRecord } from '../../device-sim/anomalies/truth.js';
import { auditAlarms } from '../../device-sim/audit/alarm-audit.js';
import { auditClient, StreamReader } from '../../device-sim/audit/kinesis-reader.js';
import { formatAlarmScore } from '../../device-sim/audit/format-alarms.js';
import { writeReport } from '../../device-sim/report.js';
import { parseScenario } from '../../device-sim/scenario/load.js';
import { runSimulation, type SimulationSummary } from '../../device-sim/simulator.js';
import type { Gateway } from '../../src/gateway.js';
import { childEnv } from '../helpers/child-env.js';
import { startTestBroker } from '../helpers/device-sim-broker.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** An alarm record as the gateway's detectors write it (the format scoring is built against). */
function alarmRecord(t: { device: string; field: string | null }, at: number, episode: number, transition = 'raised', rule = 'test-rule'): Record<string, unknown> {
  return {
    id: `alarm-${t.device}-${episode}-${transition}`,
    kind: 'alarm',
    deviceId: t.device,
    topic: `tidegate/alarms/${rule}/${t.device}`,
    ts: at,
    receivedAt: at + 1,
    values: { value: 1 },
    result: {
      rule,
      detector: 'threshold',
      key: { deviceId: t.device, ...(t.field ? { field: t.field } : {}) },
      transition,
      state: transition === 'raised' ? 'active' : 'normal',
      severity: 'major',
      value: 1,
      threshold: 0,
      episode,
      raisedAt: at,
      ...(transition === 'cleared' ? { clearedAt: at } : {}),
      readings: [],
    },
  };
}

describe('device-sim anomalies -> tidegate -> Kinesis, and alarm scoring from the stream', () => {
  const temp = { dir: '', cleanup: async () => {} };
  let gateway: Gateway;
  let client: KinesisClient;
  let summary: SimulationSummary;
  let truth: TruthRecord[];
  let truthFile: string;
  let stream: string;

  beforeAll(async () => {
    Object.assign(temp, await makeTempDir('device-sim-anomalies-'));
    const started = await startTestGateway(temp.dir);
    gateway = started.gateway;
    stream = gateway.config.kinesis.streamName;
    client = auditClient({ endpoint: gateway.kinesisEndpoint!, region: 'us-east-1', stream });
    truthFile = path.join(temp.dir, 'truth.jsonl');
    summary = await runSimulation({
      url: started.mqttUrl,
      truthFile,
      scenario: parseScenario({
        run: { duration: '3s', seed: 17 },
        transport: { mqtt: { qos: 1, connections: 3 } },
        fleets: [
          { name: 'rooms', id: 'th-{i:02}', count: 6, profile: 'th', interval: '50ms' },
          { name: 'pumps', id: 'pump-{i:02}', count: 3, profile: 'vibration', interval: '50ms' },
        ],
        anomalies: [
          { kind: 'step', devices: ['th-01'], field: 'temperature', at: '1s', duration: '1s', magnitude: 50 },
          { kind: 'drift', devices: ['th-02'], field: 'temperature', at: '500ms', duration: '2s', magnitude: 10 },
          { kind: 'stuck', devices: ['th-03'], field: 'humidity', at: '1s', duration: '1s' },
          { kind: 'noise', devices: ['th-04'], field: 'temperature', within: ['200ms', '1s'], duration: '1s', magnitude: 3 },
          { kind: 'dropout', devices: ['th-05'], at: '1200ms', duration: '600ms' },
          { kind: 'spike', fleets: ['pumps'], field: 'vibration_mm_s', readings: 2, within: ['500ms', '2500ms'], magnitude: 200 },
        ],
      }),
    });
    truth = parseTruth(readFileSync(truthFile, 'utf8'), truthFile);
  }, 30_000);

  afterAll(async () => {
    client?.destroy();
    await gateway?.stop(AbortSignal.timeout(10_000));
    await temp.cleanup();
  });

  it('writes one truth line per episode, and the stream shows exactly the injected values', async () => {
    expect(summary.failed).toBe(0);
    expect(truth.map((t) => `${t.kind} ${t.device}`).sort()).toEqual(
      ['drift th-02', 'dropout th-05', 'noise th-04', 'spike pump-01', 'spike pump-02', 'spike pump-03', 'step th-01', 'stuck th-03'].sort(),
    );
    expect(summary.anomalies).toEqual({ episodes: 8, byKind: { step: 1, drift: 1, stuck: 1, noise: 1, dropout: 1, spike: 3 }, truthFile });
    const started = Date.parse(summary.startedAt);
    for (const t of truth) {
      expect(t.start).toBeGreaterThanOrEqual(started);
      expect(t.end).toBeGreaterThanOrEqual(t.start);
      expect(t.readings).toBeGreaterThan(0);
    }
    expect(truth.find((t) => t.kind === 'spike')!.readings).toBe(2);

    // Every reading the devices sent is in the stream: what the ground truth says shows there.
    const reader = new StreamReader(client, stream);
    const deadline = Date.now() + 20_000;
    type Rec = { kind?: string; deviceId: string; ts: number; values: Record<string, number> };
    let readings: Rec[] = [];
    while (Date.now() < deadline) {
      await reader.catchUp(Date.now() + 10_000);
      readings = reader.records.map((r) => JSON.parse(Buffer.from(r.data).toString('utf8')) as Rec);
      if (readings.length >= summary.sent) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(readings.length).toBe(summary.sent);
    const of = (device: string): Rec[] => readings.filter((r) => r.deviceId === device);
    const inside = (r: Rec, t: TruthRecord): boolean => r.ts >= t.start && r.ts <= t.end;
    for (const t of truth.filter((x) => x.kind === 'spike')) {
      const rs = of(t.device);
      expect(rs.filter((r) => inside(r, t)).map((r) => r.values.vibration_mm_s! > 150)).toEqual([true, true]);
      expect(rs.filter((r) => !inside(r, t)).every((r) => r.values.vibration_mm_s! < 150)).toBe(true);
    }
    const step = truth.find((t) => t.kind === 'step')!;
    expect(of('th-01').filter((r) => inside(r, step)).every((r) => r.values.temperature! > 55)).toBe(true);
    expect(of('th-01').filter((r) => !inside(r, step)).every((r) => r.values.temperature! < 40)).toBe(true);
    const stuck = truth.find((t) => t.kind === 'stuck')!;
    expect(new Set(of('th-03').filter((r) => inside(r, stuck)).map((r) => r.values.humidity)).size).toBe(1);
    const dropout = truth.find((t) => t.kind === 'dropout')!;
    const th05 = of('th-05');
    expect(th05.filter((r) => inside(r, dropout))).toEqual([]);
    expect(th05.some((r) => r.ts > dropout.end)).toBe(true); // it resumed
    expect(dropout.readings).toBeGreaterThanOrEqual(8); // ~600 ms at one reading per 50 ms
  }, 30_000);

  it('scores alarm records written to the stream with PutRecords: detections, a miss, a flap, a false positive', async () => {
    // Detect everything 100 ms after its start, except the drift (missed); the step raises twice
    // (one flap); th-06 (no anomaly) raises once (false positive); every raise is also written
    // twice (a redelivery), plus a cleared transition and an alarm of a device of another run.
    const raised = truth.filter((t) => t.kind !== 'drift');
    const step = truth.find((t) => t.kind === 'step')!;
    const records = [
      ...raised.map((t, i) => alarmRecord(t, t.start + 100, i + 1)),
      alarmRecord(step, step.start + 300, 99),
      alarmRecord({ device: 'th-06', field: 'temperature' }, step.start, 7),
      alarmRecord(step, step.end + 50, 1, 'cleared'),
      alarmRecord({ device: 'elsewhere-1', field: 'temperature' }, step.start, 1),
    ];
    const all = [...records, ...records.filter((r) => (r.result as { transition: string }).transition === 'raised')];
    const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: all.map((r) => ({ PartitionKey: r.deviceId as string, Data: Buffer.from(JSON.stringify(r)) })) }));
    expect(out.FailedRecordCount ?? 0).toBe(0);

    const score = await auditAlarms({ from: 'stream', truth: truthFile, report: summary, target: { endpoint: gateway.kinesisEndpoint!, region: 'us-east-1', stream }, toleranceMs: 5_000 });
    expect(score).toMatchObject({
      episodes: 8,
      detected: 7,
      raises: 9, // 7 detections + 1 flap + 1 false positive
      matchedRaises: 8,
      falsePositives: 1,
      precision: 8 / 9,
      recall: 7 / 8,
      latencyMs: { count: 7, p50: 100, p95: 100, p99: 100, max: 100 },
      flaps: 1,
      maxFlaps: 1,
      outOfScope: { otherDevices: 1, beforeRun: 0 },
      alarms: { repeatedRaises: 10, otherTransitions: { cleared: 1 }, malformed: 0 },
    });
    expect(score.alarms.notAlarms).toBe(summary.sent);
    expect(score.byKind.drift).toMatchObject({ episodes: 1, detected: 0, recall: 0 });
    expect(score.byKind.spike).toMatchObject({ episodes: 3, detected: 3, recall: 1, flaps: 0 });
    expect(score.byKind.step).toMatchObject({ detected: 1, flaps: 1, flapsPerEpisode: 1 });
    expect(score.missed.map((m) => m.kind)).toEqual(['drift']);
    expect(score.falsePositiveRaises.map((f) => f.deviceId)).toEqual(['th-06']);
    expect(formatAlarmScore(score)).toMatch(/precision +88\.9% \(8 of 9 raises during an anomaly; 1 false positives\)\n +recall +87\.5% \(7 of 8 episodes detected\)/);

    // The same through the CLI: JSON out; exit 1 when recall is below --min-recall, 0 when it is met.
    const report = path.join(temp.dir, 'run.json');
    await writeReport(report, summary);
    const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'device-sim/main.ts', 'audit', ...args], { cwd: repoRoot, env: childEnv({ AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '' }) }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const base = ['--truth', truthFile, '--endpoint', gateway.kinesisEndpoint!, '--stream', stream, '--tolerance', '5'];
    const strict = await cli([...base, '--json', '--min-recall', '0.9']);
    expect(strict.code, strict.stderr).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ detected: 7, falsePositives: 2, outOfScope: { otherDevices: 0 } }); // no report: every device counts
    const both = await cli([...base, '--report', report, '--json', '--min-recall', '0.8']);
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ loss: { count: 0 }, ignored: { notReadings: all.length, withoutSeq: 0 }, alarmScore: { detected: 7, falsePositives: 1 } });
    const usage = await cli(['--truth', truthFile]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--stream NAME is required/);
  }, 60_000);
});

describe('alarm scoring from the MQTT alarm topics', () => {
  it('takes raises from retained and live messages, and counts empty (cleared) payloads', async () => {
    const broker = await startTestBroker();
    const publisher = await connectAsync(broker.url, { clientId: 'alarm-publisher' });
    try {
      const T = Date.now();
      const truth: TruthRecord[] = [
        { device: 'th-01', field: 'temperature', kind: 'step', start: T, end: T + 1000, magnitude: 5, episodeId: 'e1' },
        { device: 'th-02', field: null, kind: 'dropout', start: T, end: T + 1000, magnitude: null, episodeId: 'e2' },
      ];
      // Raised before the listener subscribed: it arrives as the retained message of an active alarm.
      await publisher.publishAsync('tidegate/alarms/hot/th-01', JSON.stringify(alarmRecord(truth[0]!, T + 200, 1)), { qos: 1, retain: true });
      const listening = auditAlarms({
        from: 'mqtt',
        truth,
        url: broker.url,
        listenMs: 1_500,
        onSubscribed: () => {
          void (async () => {
            await publisher.publishAsync('tidegate/alarms/silent/th-02', JSON.stringify(alarmRecord(truth[1]!, T + 400, 1)), { qos: 1, retain: true });
            await publisher.publishAsync('tidegate/alarms/silent/th-02', '', { qos: 1, retain: true }); // cleared
            await publisher.publishAsync('tidegate/alarms/hot/th-09', JSON.stringify(alarmRecord({ device: 'th-09', field: 'temperature' }, T + 10, 4)), { qos: 1 });
          })();
        },
      });
      const score = await listening;
      expect(score).toMatchObject({ episodes: 2, detected: 2, raises: 3, falsePositives: 1, recall: 1, latencyMs: { p50: 200, max: 400 }, alarms: { emptyPayloads: 1 } });
      expect(score.source).toBe(`mqtt ${broker.url} tidegate/alarms/#`);
    } finally {
      await publisher.endAsync();
      await broker.close();
    }
  }, 20_000);
});

describe('alarm scoring from MQTT, refused', () => {
  it('a broker that refuses the listener gives an AlarmListenError, not a crash', async () => {
    const broker = await startTestBroker({ authenticate: () => false });
    try {
      await expect(auditAlarms({ from: 'mqtt', truth: [], url: broker.url, listenMs: 60_000 })).rejects.toThrow(/cannot listen on mqtt:\/\/127\.0\.0\.1:\d+: .*(Not authorized|Bad username)/i);
    } finally {
      await broker.close();
    }
  });
});

describe('the truth file of a run stopped with SIGINT', () => {
  it('has each episode as soon as it is over, and the open ones once the run stops', async () => {
    const broker = await startTestBroker();
    const temp = await makeTempDir('device-sim-truth-sigint-');
    const scenario = path.join(temp.dir, 's.yaml');
    const truthFile = path.join(temp.dir, 'truth.jsonl');
    writeFileSync(
      scenario,
      [
        'name: sigint',
        'run: { duration: 60s, seed: 4 }',
        'fleets: [{ name: rooms, id: "th-{i:02}", count: 2, profile: th, interval: 50ms }]',
        'anomalies:',
        '  - { kind: spike, devices: [th-01], field: temperature, at: 200ms, magnitude: 30 }',
        '  - { kind: step, devices: [th-02], field: temperature, at: 300ms, duration: 60s, magnitude: 5 }',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'device-sim/main.ts', 'run', '--scenario', scenario, '--url', broker.url, '--truth', truthFile, '--no-progress', '--json'], {
      cwd: repoRoot,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const exited = once(child, 'exit');
    try {
      // About a second of readings: the spike (one reading at 200 ms) is over and must be on disk already.
      await broker.waitForCount(40, 20_000);
      const deadline = Date.now() + 5_000;
      while (!(existsSync(truthFile) && readFileSync(truthFile, 'utf8').includes('"spike"')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const early = parseTruth(readFileSync(truthFile, 'utf8'), truthFile);
      expect(early.map((t) => t.kind)).toEqual(['spike']);
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code).toBe(0);
      const all = parseTruth(readFileSync(truthFile, 'utf8'), truthFile);
      expect(all.map((t) => t.kind)).toEqual(['spike', 'step']);
      const step = all[1]!;
      expect(step.end - step.start).toBeLessThan(30_000); // cut at the stop, not the planned 60 s
      expect(step.readings).toBeGreaterThan(10);
      expect(JSON.parse(stdout)).toMatchObject({ stopReason: 'aborted', anomalies: { episodes: 2, byKind: { spike: 1, step: 1 }, truthFile } });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await broker.close();
      await temp.cleanup();
    }
  }, 40_000);
});
