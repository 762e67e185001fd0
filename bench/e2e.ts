/**
 * End-to-end benchmark: device-sim (QoS 1, ~200-byte readings) → tidegate → Kinesis emulator, against
 * ceilings measured in the same round: (a) PutRecords straight into the same emulator, (a') the same while a
 * watcher reads the stream, (b) aedes alone, acknowledging without storing. The burst runs twice: watched
 * (first publish → last record read back) and unwatched (first publish → Kinesis accepted the last, all read
 * back afterwards). Reports medians over rounds; ratios matter, absolute numbers vary with the machine. Usage: npm run bench [-- --rounds 3 --readings 50000]; BENCH_KINESIS='pacing: { mode: off }, concurrency: 4'
 * sets the gateway's extra kinesis keys (YAML flow text) to compare settings; BENCH_GATEWAY_NODE_ARGS='--max-semi-space-size=4'
 * runs the gateway with those Node options (space-separated); TIDEGATE_BENCH_ALLOC_PROFILE_DIR=<dir> also measures the
 * bytes the gateway allocates per reading in the burst and leaves the profile there (bench/alloc-profile.ts reads it);
 * with TIDEGATE_BENCH_ALLOC_SURVIVORS=1 as well, only what outlived young-generation collections (what they copy and promote);
 * TIDEGATE_BENCH_GATEWAY_OUTPUT=<file> keeps the gateway's output that is not its log (--trace-gc-nvp, say).
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { benchGatewayNodeArgs, cpuMs, jsonField, peakRssMiB, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { putRecordsCeiling, StreamWatch } from './stream-watch.js';
import { requireMeasured } from './not-measured.js';
import { controlRequest } from '../src/control/client.js';
import type { StatusReport } from '../src/control/handler.js';
import { controlSocketPath } from '../src/control/protocol.js';
import { allocProfileDir, summarizeAllocations, toggleAllocationSampling } from './alloc-profile.js';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, readings: { type: 'string', default: '50000' }, 'latency-seconds': { type: 'string', default: '10' } },
});
const ROUNDS = Number(args.rounds);
const READINGS = Number(args.readings);
const LATENCY_SECONDS = Number(args['latency-seconds']);
const DEVICES = 10;
const PAYLOAD_BYTES = 200;
const SHARDS = 4;

interface Round {
  ratio: number;
  ceilingKinesis: number;
  /** (a) while a watcher reads every record as in the first burst: when the last was seen (records/s). */
  ceilingWatched: number;
  ceilingAedes: number;
  /** The floor: aedes alone's CPU (user + system) per reading acknowledged, in µs, and its peak RSS (MiB). */
  aedesCpuUsPerReading: number;
  aedesPeakRss: number;
  e2e: number;
  /** How fast the devices' publishes were acknowledged in the burst (readings/s): above e2e when delivery lags. */
  ackRate: number;
  /** The second burst, first publish → Kinesis accepted the last reading, with nobody reading the stream. */
  e2eAccepted: number;
  ratioAccepted: number;
  pubackP50: number;
  pubackP99: number;
  visibleP50: number;
  visibleP99: number;
  peakRss: number;
  cpuUsPerReading: number;
  /** The gateway's CPU per reading in the unwatched burst, from its first publish to when Kinesis accepted the last. */
  cpuUsPerReadingUnwatched: number;
  /** Bytes the gateway allocated per reading in the burst, when TIDEGATE_BENCH_ALLOC_PROFILE_DIR is set. */
  allocBytesPerReading?: number;
}

const sim = (url: string, extra: string[]): Child =>
  spawnNode(['dist/device-sim/main.js', '--url', url, '--devices', String(DEVICES), '--qos', '1', '--payload-bytes', String(PAYLOAD_BYTES), '--json', ...extra]);

async function simSummary(child: Child, timeoutMs: number): Promise<Record<string, any>> {
  return child.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? o : undefined)), timeoutMs);
}

async function delivered(dataDir: string): Promise<number> {
  return ((await controlRequest(controlSocketPath(dataDir), { op: 'status' })) as StatusReport).buffer.delivered;
}

/** When the gateway's delivered count reached `target` (polled every 50 ms), or null at the deadline. */
async function untilDelivered(dataDir: string, target: number, deadlineMs: number): Promise<number | null> {
  for (const end = Date.now() + deadlineMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    if ((await delivered(dataDir)) >= target) return Date.now();
  }
  return null;
}

async function round(n: number): Promise<Round> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-'));
  const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  const children: Child[] = [emulator];
  try {
    const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
    const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });

    // (a) the sink ceiling
    await ensureStream(kinesis, 'ceiling', SHARDS, AbortSignal.timeout(10_000));
    const ceilingKinesis = await putRecordsCeiling(kinesis, 'ceiling', READINGS, PAYLOAD_BYTES + 80, DEVICES);
    // (a') the same run watched as the first burst is: how fast a perfect gateway's records would be seen,
    // with the watcher's reads (every record, through the SDK) on the same cores.
    await ensureStream(kinesis, 'ceiling-watched', SHARDS, AbortSignal.timeout(10_000));
    const ceilingWatch = new StreamWatch(kinesis, 'ceiling-watched');
    await ceilingWatch.init();
    const ceilingSeen = ceilingWatch.until(READINGS, 120_000, 50);
    const ceilingStarted = Date.now();
    await putRecordsCeiling(kinesis, 'ceiling-watched', READINGS, PAYLOAD_BYTES + 80, DEVICES);
    const ceilingSeenAt = await ceilingSeen;
    requireMeasured(ceilingSeenAt !== null, `round ${n}: the watched ceiling run's records were not all seen`);
    const ceilingWatched = READINGS / ((ceilingSeenAt - ceilingStarted) / 1000);

    // (b) the broker ceiling
    const aedes = spawnNode(['bench/aedes-process.mjs']);
    children.push(aedes);
    const aedesPort = await aedes.waitFor((l) => jsonField(l, (o) => o.port as number | undefined));
    const aedesCpuBefore = cpuMs(aedes.proc.pid!);
    const aedesRun = await simSummary(sim(`mqtt://127.0.0.1:${aedesPort}`, ['--count', String(READINGS), '--total-rate', '200000']), 120_000);
    const aedesCpuUsPerReading = ((cpuMs(aedes.proc.pid!) - aedesCpuBefore) * 1000) / READINGS;
    const aedesPeakRss = peakRssMiB(aedes.proc.pid!);
    await aedes.stop();

    // end to end through tidegate (a child process running the built gateway)
    await ensureStream(kinesis, 'e2e', SHARDS, AbortSignal.timeout(10_000));
    const nodeArgs = benchGatewayNodeArgs();
    const { gateway, port } = await startBenchGateway(dir, endpoint, 'e2e', { ...(process.env.BENCH_KINESIS ? { kinesis: process.env.BENCH_KINESIS } : {}), nodeArgs });
    children.push(gateway);
    const watch = new StreamWatch(kinesis, 'e2e');
    await watch.init();
    const allocDir = allocProfileDir();
    if (allocDir) process.kill(gateway.proc.pid!, 'SIGUSR2');
    const cpuBefore = cpuMs(gateway.proc.pid!);
    const load = sim(`mqtt://127.0.0.1:${port}`, ['--count', String(READINGS), '--total-rate', '200000']);
    const visibleAt = await watch.until(READINGS, 300_000, 50);
    const e2eRun = await simSummary(load, 60_000);
    requireMeasured(visibleAt !== null, `round ${n}: only ${watch.count} of ${READINGS} readings became visible`);
    const e2e = READINGS / ((visibleAt - Date.parse(e2eRun.startedAt)) / 1000);
    const cpuUsPerReading = ((cpuMs(gateway.proc.pid!) - cpuBefore) * 1000) / READINGS;
    // Sampling costs CPU: a round that profiles allocations measures them, not its CPU per reading.
    const allocBytesPerReading = allocDir ? summarizeAllocations(await toggleAllocationSampling(gateway.proc.pid!, allocDir, 1)).totalBytes / READINGS : undefined;

    // The same burst again, timed by what Kinesis accepted (the buffer's delivered count, asked over the
    // control socket every 50 ms) with nobody reading the stream meanwhile, then checked from outside: every
    // record read back. The watch above reads each record through the SDK on the same two cores; a ceiling
    // run watched that way sees its last record at about two thirds of its put rate, so the visible figure
    // measures the watcher as much as the gateway.
    const dataDir = path.join(dir, 'data');
    const deliveredBefore = await delivered(dataDir);
    const unwatchedCpuBefore = cpuMs(gateway.proc.pid!);
    const unwatched = sim(`mqtt://127.0.0.1:${port}`, ['--count', String(READINGS), '--total-rate', '200000']);
    const acceptedAt = await untilDelivered(dataDir, deliveredBefore + READINGS, 300_000);
    const cpuUsPerReadingUnwatched = ((cpuMs(gateway.proc.pid!) - unwatchedCpuBefore) * 1000) / READINGS;
    const unwatchedRun = await simSummary(unwatched, 60_000);
    requireMeasured(acceptedAt !== null, `round ${n}: Kinesis did not accept ${READINGS} readings of the second burst in time`);
    const e2eAccepted = READINGS / ((acceptedAt - Date.parse(unwatchedRun.startedAt)) / 1000);
    const verified = await watch.until(2 * READINGS, 120_000, 50);
    requireMeasured(verified !== null, `round ${n}: only ${watch.count} of ${2 * READINGS} readings of both bursts are in the stream`);

    // Latency at a steady 1,000 readings/s, in two phases: PUBACK latency with nobody polling the stream
    // (polling loads the emulator, which shares the cores), then publish→visible with a 20 ms poll.
    const steady = sim(`mqtt://127.0.0.1:${port}`, ['--duration', String(LATENCY_SECONDS), '--total-rate', '1000']);
    const steadyRun = await simSummary(steady, (LATENCY_SECONDS + 60) * 1000);
    const latencyWatch = new StreamWatch(kinesis, 'e2e');
    await latencyWatch.init();
    // Skip the earlier phases' records: as many as were acknowledged, not as many as were asked for.
    const before = 2 * READINGS + steadyRun.acked;
    const skipped = await latencyWatch.until(before, 60_000, 10);
    requireMeasured(skipped !== null, `round ${n}: only ${latencyWatch.count} of the ${before} earlier readings became visible, so the latency phase cannot tell its records apart`);
    latencyWatch.latencies.length = 0;
    const visible = sim(`mqtt://127.0.0.1:${port}`, ['--duration', String(LATENCY_SECONDS), '--total-rate', '1000']);
    // The target is known when the simulator reports what was acknowledged; until then the watch keeps polling.
    let visibleTarget = Infinity;
    const [visibleRun, reached] = await Promise.all([
      simSummary(visible, (LATENCY_SECONDS + 60) * 1000).then((r) => ((visibleTarget = before + r.acked), r)),
      latencyWatch.until(() => visibleTarget, (LATENCY_SECONDS + 60) * 1000, 20, true),
    ]);
    requireMeasured(
      reached !== null && latencyWatch.latencies.length > 0,
      `round ${n}: publish→visible: ${latencyWatch.count - before} of ${visibleRun.acked} acknowledged readings became visible before the deadline (${latencyWatch.latencies.length} latencies)`,
    );
    const peakRss = peakRssMiB(gateway.proc.pid!);
    await gateway.stop();
    kinesis.destroy();
    const sorted = latencyWatch.latencies.sort((a, b) => a - b);
    const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

    const result: Round = {
      ratio: e2e / ceilingKinesis,
      ceilingKinesis,
      ceilingWatched,
      ceilingAedes: aedesRun.ratePerSec,
      aedesCpuUsPerReading,
      aedesPeakRss,
      e2e,
      ackRate: e2eRun.ratePerSec,
      e2eAccepted,
      ratioAccepted: e2eAccepted / ceilingKinesis,
      pubackP50: steadyRun.ackLatencyMs.p50,
      pubackP99: steadyRun.ackLatencyMs.p99,
      visibleP50: pct(50),
      visibleP99: pct(99),
      peakRss,
      cpuUsPerReading,
      cpuUsPerReadingUnwatched,
      ...(allocBytesPerReading !== undefined ? { allocBytesPerReading: Math.round(allocBytesPerReading) } : {}),
    };
    process.stderr.write(`round ${n}: ${JSON.stringify(result)}\n`);
    return result;
  } finally {
    for (const c of children.reverse()) await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const rounds: Round[] = [];
for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(i));
const m = (k: keyof Round): number => median(rounds.map((r) => r[k] ?? NaN));
const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
const table = [
  `Median of ${ROUNDS} rounds, ${fmt(READINGS)} QoS 1 readings of ~${PAYLOAD_BYTES} B from ${DEVICES} clients, ${SHARDS}-shard stream, ` +
    `${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}. ` +
    'Ratios are medians of the per-round ratios.',
  '',
  '| measure | value | ratio |',
  '|---|---|---|',
  `| (a) sink ceiling: PutRecords straight into the emulator, 500 per call | ${fmt(m('ceilingKinesis'))} records/s | 1.00 |`,
  `| (a') the same run while the stream is read as in the first burst: last record seen | ${fmt(m('ceilingWatched'))} records/s | ${fmt(median(rounds.map((r) => r.ceilingWatched / r.ceilingKinesis)), 2)} |`,
  `| (b) broker ceiling: aedes alone, acking without storing | ${fmt(m('ceilingAedes'))} readings/s | |`,
  `| **tidegate end to end** (first publish → last record visible), durable acks | **${fmt(m('e2e'))} readings/s** | **${fmt(m('ratio'), 2)} × (a)** (rounds: ${rounds.map((r) => fmt(r.ratio, 2)).join(', ')}) |`,
  `| tidegate end to end, the same burst unwatched (first publish → Kinesis accepted the last; then all read back) | ${fmt(m('e2eAccepted'))} readings/s | ${fmt(m('ratioAccepted'), 2)} × (a) (rounds: ${rounds.map((r) => fmt(r.ratioAccepted, 2)).join(', ')}) |`,
  `| PUBACK latency at 1,000 readings/s, p50 / p99 | ${fmt(m('pubackP50'), 1)} / ${fmt(m('pubackP99'), 1)} ms | |`,
  `| publish → visible in the stream at 1,000 readings/s, p50 / p99 | ${fmt(m('visibleP50'))} / ${fmt(m('visibleP99'))} ms | |`,
  `| gateway peak RSS | ${fmt(m('peakRss'))} MiB | |`,
  `| gateway CPU per reading (user + system), watched burst / unwatched burst | ${fmt(m('cpuUsPerReading'), 1)} / ${fmt(m('cpuUsPerReadingUnwatched'), 1)} µs | ${fmt(median(rounds.map((r) => r.cpuUsPerReadingUnwatched / r.aedesCpuUsPerReading)), 1)} × (b)'s, unwatched |`,
  `| (b) the floor: aedes alone's CPU per reading acknowledged / its peak RSS | ${fmt(m('aedesCpuUsPerReading'), 1)} µs / ${fmt(m('aedesPeakRss'))} MiB | |`,
  ...(allocProfileDir() ? [`| gateway bytes allocated per reading in the burst (sampled; this run's CPU is not comparable) | ${fmt(m('allocBytesPerReading'))} B | |`] : []),
].join('\n');
await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
await writeFile(path.join(repoRoot, 'bench/results/latest.md'), `${table}\n`);
process.stdout.write(`${table}\n`);
