/**
 * Buffer benchmark (`npm run bench:buffer`):
 *  1. At a steady 1,000 readings/s of ~200 B (QoS 1, fsync durability): write amplification, i.e. bytes the
 *     gateway process wrote to disk (/proc/<pid>/io write_bytes) per payload byte, and group commits
 *     (= fsyncs) per second.
 *  2. A backlog of N readings (default 1,000,000) already in the buffer: time until the gateway is ready,
 *     and the drain rate to the Kinesis emulator against the sink ceiling measured in the same run (the
 *     emulator fed directly with 500-entry PutRecords calls), with the gateway's peak RSS during the drain.
 * Usage: npm run bench:buffer [-- --backlog 1000000 --steady-seconds 20]; BENCH_GATEWAY_NODE_ARGS='--max-semi-space-size=4'
 * runs both gateways with those Node options (space-separated), as `npm run bench` does.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execSync } from 'node:child_process';
import { controlRequest } from '../src/control/client.js';
import type { StatusReport } from '../src/control/handler.js';
import { controlSocketPath } from '../src/control/protocol.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { LevelBuffer } from '../src/buffer/level-buffer.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { benchGatewayNodeArgs, jsonField, peakRssMiB, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { putRecordsCeiling } from './stream-watch.js';
import { fillBacklog } from './backlog.js';
import { requireMeasured } from './not-measured.js';

const { values: args } = parseArgs({ options: { backlog: { type: 'string', default: '1000000' }, 'steady-seconds': { type: 'string', default: '20' } } });
const BACKLOG = Number(args.backlog);
const STEADY_SECONDS = Number(args['steady-seconds']);
const GATEWAY_NODE_ARGS = benchGatewayNodeArgs();
const PAYLOAD_BYTES = 200;

async function writeBytes(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/write_bytes:\s+(\d+)/.exec(io)?.[1] ?? 0);
}

async function status(dataDir: string): Promise<StatusReport> {
  return (await controlRequest(controlSocketPath(dataDir), { op: 'status' })) as StatusReport;
}

async function bufferStats(dataDir: string) {
  const q = new LevelBuffer({ dir: dataDir, gatewayId: 'bench', durability: 'os', commitIntervalMs: 0, maxCommitRecords: 1, sinkIds: ['kinesis'], inspectOnly: true });
  await q.open();
  const stats = q.stats();
  await q.close();
  return stats;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-buffer-'));
const children: Child[] = [];
try {
  const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  children.push(emulator);
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 60_000 });

  // 1. Steady state.
  await ensureStream(kinesis, 'steady', 4, AbortSignal.timeout(10_000));
  const steady = await startBenchGateway(dir, endpoint, 'steady', { nodeArgs: GATEWAY_NODE_ARGS });
  children.push(steady.gateway);
  const pid = steady.gateway.proc.pid!;
  const dataDir = path.join(dir, 'data');
  const before = { bytes: await writeBytes(pid), commits: (await status(dataDir)).buffer.commits, at: Date.now() };
  const sim = spawnNode(['dist/device-sim/main.js', '--url', `mqtt://127.0.0.1:${steady.port}`, '--devices', '50', '--qos', '1', '--payload-bytes', String(PAYLOAD_BYTES), '--json', '--duration', String(STEADY_SECONDS), '--total-rate', '1000']);
  children.push(sim);
  const run = await sim.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? o : undefined)), (STEADY_SECONDS + 60) * 1000);
  const after = { bytes: await writeBytes(pid), commits: (await status(dataDir)).buffer.commits, at: Date.now() };
  await steady.gateway.stop();
  const amplification = (after.bytes - before.bytes) / (run.acked * PAYLOAD_BYTES);
  const commitsPerSecond = ((after.commits - before.commits) * 1000) / (after.at - before.at);

  // 2. Backlog drain.
  await rm(dataDir, { recursive: true, force: true });
  const fillStart = Date.now();
  await fillBacklog(dataDir, BACKLOG);
  const fillSeconds = (Date.now() - fillStart) / 1000;
  const avgRecord = (await bufferStats(dataDir)).bufferedBytes / BACKLOG;
  const diskMiB = Number(execSync(`du -sk ${JSON.stringify(dataDir)}`).toString().split('\t')[0]) / 1024;
  await ensureStream(kinesis, 'ceiling', 4, AbortSignal.timeout(10_000));
  const ceiling = await putRecordsCeiling(kinesis, 'ceiling', 100_000, 330, 50);
  await ensureStream(kinesis, 'drain', 4, AbortSignal.timeout(10_000));
  const drain = await startBenchGateway(dir, endpoint, 'drain', { nodeArgs: GATEWAY_NODE_ARGS });
  children.push(drain.gateway);
  const drainStart = Date.now();
  let delivered = 0;
  // Bounded: gives up after 30 minutes.
  while (delivered < BACKLOG && Date.now() - drainStart < 30 * 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    delivered = (await status(dataDir)).buffer.delivered;
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  // A stalled drain has no rate: dividing the backlog by the time given up after would report a made-up one.
  requireMeasured(delivered >= BACKLOG, `the drain stalled: ${delivered} of ${BACKLOG} readings delivered after ${drainSeconds.toFixed(0)} s`);
  const drainRss = peakRssMiB(drain.gateway.proc.pid!);
  await drain.gateway.stop();
  kinesis.destroy();

  const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const table = [
    `${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, data dir on ${execSync(`df --output=source ${JSON.stringify(dir)} | tail -1`).toString().trim()}.`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| write amplification at 1,000 readings/s (disk bytes written / payload bytes), fsync | ${fmt(amplification, 2)} | ≤ 5 |`,
    `| group commits (fsyncs) per second at 1,000 readings/s, commitIntervalMs 10 | ${fmt(commitsPerSecond, 1)} | ≤ 100 (one per interval) |`,
    `| PUBACK latency p50 / p99 during that run | ${fmt(run.ackLatencyMs.p50, 1)} / ${fmt(run.ackLatencyMs.p99, 1)} ms | |`,
    `| backlog: ${fmt(BACKLOG)} readings (~${fmt(avgRecord)} B each as stored) on disk | ${fmt(diskMiB)} MiB (${fmt((diskMiB * 1024 * 1024) / BACKLOG)} B per reading), written in ${fmt(fillSeconds, 1)} s | |`,
    `| ready with that backlog (start → MQTT listener ready) | ${fmt(drain.readyMs / 1000, 2)} s | ≤ 3 s |`,
    `| drain rate | ${fmt(BACKLOG / drainSeconds)} readings/s = ${fmt(BACKLOG / drainSeconds / ceiling, 2)} × the sink ceiling (${fmt(ceiling)} records/s) | ≥ 0.8 × |`,
    `| gateway peak RSS during the drain | ${fmt(drainRss)} MiB | ≤ 200 MiB |`,
  ].join('\n');
  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(path.join(repoRoot, 'bench/results/buffer.md'), `${table}\n`);
  process.stdout.write(`${table}\n`);
} finally {
  for (const c of children.reverse()) await c.stop();
  await rm(dir, { recursive: true, force: true });
}
