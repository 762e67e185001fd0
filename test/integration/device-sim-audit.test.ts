import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditStream } from '../../device-sim/audit/audit.js';
import { auditCommand } from '../../device-sim/cli/audit-command.js';
import { formatAudit } from '../../device-sim/audit/format.js';
import { auditClient } from '../../device-sim/audit/kinesis-reader.js';
import { writeReport } from '../../device-sim/report.js';
import { parseScenario } from '../../device-sim/scenario/load.js';
import { runSimulation, type SimulationSummary } from '../../device-sim/simulator.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestBroker, type ReceivedPublish } from '../helpers/device-sim-broker.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { childEnv } from '../helpers/child-env.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface TidegateRecord {
  id: string;
  deviceId: string;
  topic: string;
  ts: number;
  seq: number;
  receivedAt: number;
  values: Record<string, unknown>;
}

/** What tidegate would write for a publish: the device's fields other than ts/seq (boot among them) land in values. */
function toRecord(p: ReceivedPublish, id: string): TidegateRecord {
  const { ts, seq, ...values } = p.body as { ts: number; seq: number } & Record<string, unknown>;
  return { id, deviceId: p.topic.split('/')[1]!, topic: p.topic, ts, seq, receivedAt: ts + 7, values };
}

async function putAll(client: KinesisClient, stream: string, records: TidegateRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    const batch = records.slice(i, i + 500);
    const out = await client.send(
      new PutRecordsCommand({ StreamName: stream, Records: batch.map((r) => ({ PartitionKey: r.deviceId, Data: Buffer.from(JSON.stringify(r)) })) }),
    );
    expect(out.FailedRecordCount ?? 0).toBe(0);
  }
}

describe('device-sim audit against a real Kinesis emulator', () => {
  let emulator: LocalEmulator;
  let client: KinesisClient;
  let summary: SimulationSummary;
  let published: ReceivedPublish[];
  const stream = 'audit-test';
  const temp = { dir: '', cleanup: async () => {} };

  beforeAll(async () => {
    Object.assign(temp, await makeTempDir('device-sim-audit-'));
    emulator = await startLocalEmulator('127.0.0.1', 0);
    client = auditClient({ endpoint: emulator.endpoint, region: 'us-east-1', stream });
    await ensureStream(client, stream, 3, AbortSignal.timeout(10_000));
    // A real run supplies the ledger; its publishes (as the broker saw them) become the stream's records.
    const broker = await startTestBroker();
    try {
      summary = await runSimulation({
        scenario: parseScenario({
          run: { count: 1_200, seed: 5 },
          transport: { mqtt: { url: broker.url, qos: 1, connections: 4 } },
          fleets: [{ id: 'th-{i:02}', count: 12, profile: 'th', rate: 1_000 }],
          faults: { duplicates: { ratio: 0.02 }, reboots: { ratio: 0.005 } },
        }),
      });
      published = [...broker.received];
    } finally {
      await broker.close();
    }
  });

  afterAll(async () => {
    client?.destroy();
    await emulator?.close();
    await temp.cleanup();
  });

  it('finds injected loss, duplicates and reordering exactly', async () => {
    expect(summary).toMatchObject({ acked: 1_200, failed: 0 });
    const injected = summary.faults.duplicatesSent;
    expect(injected).toBeGreaterThan(5);
    expect(published).toHaveLength(1_200 + injected);

    let n = 0;
    const records = published.map((p) => toRecord(p, `gw-${n++}`));
    const byDevice = (id: string): TidegateRecord[] => records.filter((r) => r.deviceId === id);
    // Drop 3 readings of th-01 (seqs of its first boot 10..12) and 1 of th-02.
    const th01 = byDevice('th-01');
    const boot01 = th01[0]!.values.boot;
    const dropped = new Set([...th01.filter((r) => r.values.boot === boot01 && r.seq >= 10 && r.seq <= 12), byDevice('th-02')[20]!]);
    // Double 2 readings of th-03 as the gateway would after a crash (same record, same id)
    // and 2 of th-04 as a device retransmission would (a new record, a new id).
    const th03 = byDevice('th-03').filter((r) => !records.some((o) => o !== r && o.deviceId === r.deviceId && o.seq === r.seq && o.values.boot === r.values.boot));
    const th04 = byDevice('th-04').filter((r) => !records.some((o) => o !== r && o.deviceId === r.deviceId && o.seq === r.seq && o.values.boot === r.values.boot));
    const resentSameId = [th03[5]!, th03[30]!];
    const resentNewId = [th04[7]!, th04[40]!].map((r) => ({ ...r, id: `gw-retry-${r.seq}` }));
    // Swap two neighbouring readings of th-05 (same boot): one backward step.
    const th05 = byDevice('th-05');
    const [x, y] = [records.indexOf(th05[50]!), records.indexOf(th05[51]!)];
    expect(th05[50]!.values.boot).toBe(th05[51]!.values.boot);
    [records[x], records[y]] = [records[y]!, records[x]!];

    const stored = [...records.filter((r) => !dropped.has(r)), ...resentSameId, ...resentNewId];
    await putAll(client, stream, stored);

    const result = await auditStream({ report: summary, endpoint: emulator.endpoint, region: 'us-east-1', stream });
    expect(result.shards).toBe(3);
    expect(result.records).toBe(stored.length);
    expect(result.ok).toBe(false);
    expect(result.loss.count).toBe(4);
    expect(result.loss.byDevice).toEqual([
      { deviceId: 'th-01', boot: boot01, lost: [[10, 12]] },
      { deviceId: 'th-02', boot: byDevice('th-02')[20]!.values.boot, lost: [[byDevice('th-02')[20]!.seq, byDevice('th-02')[20]!.seq]] },
    ]);
    expect(result.duplicates).toEqual({ copies: injected + 4, keys: injected + 4, injected, unexpected: 4, byId: 2 });
    expect(result.reordered).toBe(1);
    expect(result.deliveredUnacknowledged).toBe(0);
    expect(result.matched).toBe(stored.length);
    expect(result.latencyMs).toMatchObject({ count: stored.length, p50: 7, p99: 7 });

    const text = formatAudit(result);
    expect(text).toMatch(/loss +4 acknowledged readings not in the stream\n +th-01 boot [0-9a-f]{8}: seq 10-12/);
    expect(text).toMatch(/duplicates +\d+ extra copies of \d+ readings \(\d+ sent twice by the device on purpose, 4 unexpected\); 2 repeated record ids/);
    expect(text).toMatch(/result +FAILED: acknowledged readings are missing/);

    // The same through the CLI: exit 1 on loss with the JSON result on stdout; exit 2 for a missing report.
    const report = path.join(temp.dir, 'run.json');
    await writeReport(report, summary);
    const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'device-sim/main.ts', 'audit', ...args], { cwd: repoRoot, env: childEnv({ AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '' }) }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const json = await cli(['--report', report, '--endpoint', emulator.endpoint, '--stream', stream, '--json']);
    expect(json.code, json.stderr).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ loss: { count: 4 }, duplicates: { unexpected: 4, byId: 2 }, reordered: 1 });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await auditCommand({ report: path.join(temp.dir, 'nope.json'), endpoint: emulator.endpoint, stream, wait: '0', timeout: '10' })).toBe(2);
      expect(String(stderr.mock.calls[0]?.[0])).toMatch(/cannot read report .*nope\.json/);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('end to end: device-sim -> tidegate -> Kinesis emulator -> audit', () => {
  let gateway: Gateway | undefined;

  it('finds no loss, exactly the duplicates the devices sent, and none of the junk', async () => {
    const temp = await makeTempDir('device-sim-e2e-');
    try {
      const started = await startTestGateway(temp.dir);
      gateway = started.gateway;
      const summary = await runSimulation({
        url: started.mqttUrl,
        scenario: parseScenario({
          run: { count: 2_000, seed: 11 },
          transport: { mqtt: { qos: 1, connections: 5 } },
          fleets: [
            { id: 'th-{i:02}', count: 10, profile: 'th', rate: 200 },
            { id: 'm-{i:02}', count: 5, profile: 'energy', rate: 200 },
          ],
          faults: { duplicates: { ratio: 0.02 }, malformed: { ratio: 0.02 }, reboots: { ratio: 0.005 } },
        }),
      });
      expect(summary).toMatchObject({ acked: 2_000, failed: 0 });
      const result = await auditStream({
        report: summary,
        endpoint: gateway.kinesisEndpoint!,
        region: 'us-east-1',
        stream: gateway.config.kinesis.streamName,
        waitMs: 20_000,
        pollMs: 200,
      });
      expect(result.loss).toEqual({ count: 0, byDevice: [] });
      expect(result.duplicates).toMatchObject({ injected: summary.faults.duplicatesSent, unexpected: 0, byId: 0 });
      expect(result.reordered).toBe(0);
      expect(result.matched).toBe(2_000 + summary.faults.duplicatesSent);
      expect(result.ignored).toEqual({ notReadings: 0, otherDevices: 0, unknownBoot: 0, withoutSeq: 0, seqNeverSent: 0, unparseable: 0 });
      expect(result.latencyMs!.p50).toBeGreaterThanOrEqual(0);
      expect(summary.faults.malformedSent).toBeGreaterThan(0); // dead-lettered by the gateway, so not in the stream
    } finally {
      await gateway?.stop(AbortSignal.timeout(10_000));
      await temp.cleanup();
    }
  });
});
