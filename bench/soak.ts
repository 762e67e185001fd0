/**
 * Soak benchmark (`npm run bench:soak`): a steady load for minutes, paced as against AWS, watching the
 * gateway's resident memory and CPU for growth (issue: Pi-class efficiency, "Soak").
 *
 * device-sim (100 devices, QoS 1, ~200-byte readings) publishes at a steady `--rate` for `--minutes` into the
 * built gateway (child process, default config, per-shard pacing on), which forwards through the fault proxy
 * enforcing AWS's per-shard limits (1,000 records/s and 1 MiB/s) to kinesalite in its own process. Every
 * 5 s the gateway's RSS (VmRSS) and CPU (user + system, /proc) are sampled. After `--warmup-seconds` the
 * figures that count: RSS growth from the first minute after warm-up to the last minute, and CPU as a share
 * of one core over the same span, also split into the main thread's and the other threads' (libuv's pool,
 * V8's helpers), user and system. At the end every acknowledged reading must have reached Kinesis.
 * Targets: RSS growth < 5 MiB, CPU ≤ 3 % of a core at 1,000 readings/s. The floor, measured first in the same
 * run: aedes alone (bench/aedes-process.mjs, acknowledging without storing) under the same load for
 * `--floor-seconds`, its CPU after a 10 s warm-up: what any Node MQTT broker pays per event at this rate.
 *
 * Usage: npx tsx bench/soak.ts [--minutes 10] [--rate 1000] [--warmup-seconds 60] [--shards 2]
 *        [--node-args="--max-semi-space-size=2"] [--kinesis "batch: { maxAgeMs: 200 }"]
 *        [--buffer "commitIntervalMs: 25"] [--floor-seconds 40]   (`npm run bench:soak` builds dist first)
 * Bounded: the floor runs `--floor-seconds` (0: skipped), the load `--minutes`; the drain afterwards at most 120 s.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { KinesisFaultProxy } from '../test/helpers/kinesis-fault-proxy.js';
import { cpuTotalMs, jsonField, peakRssMiB, repoRoot, rssMiB, spawnNode, startBenchGateway, threadCpuMs, type Child, type ThreadCpu } from './processes.js';
import { requireMeasured } from './not-measured.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    'warmup-seconds': { type: 'string', default: '60' },
    shards: { type: 'string', default: '2' },
    'node-args': { type: 'string', default: '' },
    kinesis: { type: 'string', default: '' },
    buffer: { type: 'string', default: '' },
    'floor-seconds': { type: 'string', default: '40' },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const WARMUP_S = Number(args['warmup-seconds']);
const SHARDS = Number(args.shards);
const NODE_ARGS = String(args['node-args']).split(' ').filter(Boolean);
/** More `kinesis:` keys for the gateway, as YAML flow text (`batch: { maxAgeMs: 200 }`). */
const KINESIS_EXTRA = String(args.kinesis);
/** `buffer:` keys for the gateway, as YAML flow text (`commitIntervalMs: 25`). */
const BUFFER_EXTRA = String(args.buffer);
const FLOOR_S = Number(args['floor-seconds']);
const FLOOR_WARMUP_S = 10;
const DEVICES = 100;
const SAMPLE_MS = 5_000;
const DRAIN_TIMEOUT_MS = 120_000;
if (!(FLOOR_S === 0 || FLOOR_S >= FLOOR_WARMUP_S + 20)) throw new Error(`--floor-seconds ${FLOOR_S} leaves less than 20 s after its ${FLOOR_WARMUP_S} s warm-up (0 skips the floor)`);
if (!(MINUTES * 60 >= WARMUP_S + 60)) throw new Error(`--minutes ${MINUTES} leaves less than a minute after a ${WARMUP_S} s warm-up`);

interface Sample {
  atS: number;
  rssMiB: number;
  threads: ThreadCpu;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const children: Child[] = [];

/** The load device-sim puts on a broker at `port` for `seconds`: the same for the floor and the gateway. */
function startLoad(port: number, seconds: number): Child {
  return spawnNode([
    'dist/device-sim/main.js', '--url', `mqtt://127.0.0.1:${port}`, '--devices', String(DEVICES), '--qos', '1', '--payload-bytes', '200',
    '--total-rate', String(RATE), '--duration', String(seconds), '--json',
  ]);
}

function simSummary(sim: Child, seconds: number): Promise<{ acked: number; sent?: number }> {
  return sim.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? (o as { acked: number; sent?: number }) : undefined)), (seconds + 120) * 1000);
}

/** aedes alone under the same load: its CPU as a share of one core after FLOOR_WARMUP_S. */
async function measureFloor(): Promise<{ cpuShare: number; mainShare: number; acked: number }> {
  const aedes = spawnNode(['bench/aedes-process.mjs']);
  try {
    const port = await aedes.waitFor((l) => jsonField(l, (o) => o.port as number | undefined));
    const pid = aedes.proc.pid!;
    const sim = startLoad(port, FLOOR_S);
    try {
      const summary = simSummary(sim, FLOOR_S);
      await new Promise((r) => setTimeout(r, FLOOR_WARMUP_S * 1000));
      const from = { at: performance.now(), cpu: threadCpuMs(pid) };
      const run = await summary;
      const elapsedMs = performance.now() - from.at;
      const cpu = threadCpuMs(pid);
      const cpuShare = (cpuTotalMs(cpu) - cpuTotalMs(from.cpu)) / elapsedMs;
      const mainShare = (cpuTotalMs(cpu, 'main') - cpuTotalMs(from.cpu, 'main')) / elapsedMs;
      process.stderr.write(`soak floor: aedes alone ${fmt(cpuShare * 100, 1)} % of a core (main thread ${fmt(mainShare * 100, 1)} %), ${fmt(run.acked)} acknowledged\n`);
      return { cpuShare, mainShare, acked: run.acked };
    } finally {
      await sim.stop();
    }
  } finally {
    await aedes.stop();
  }
}
const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-soak-'));
let proxy: KinesisFaultProxy | null = null;
try {
  const floor = FLOOR_S > 0 ? await measureFloor() : null;
  const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  children.push(emulator);
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  await ensureStream(kinesis, 'soak', SHARDS, AbortSignal.timeout(10_000));
  kinesis.destroy();
  proxy = new KinesisFaultProxy(Number(new URL(endpoint).port));
  await proxy.start();

  const { gateway, port } = await startBenchGateway(dir, proxy.url, 'soak', { kinesis: `pacing: { mode: on }${KINESIS_EXTRA ? `, ${KINESIS_EXTRA}` : ''}`, nodeArgs: NODE_ARGS, ...(BUFFER_EXTRA ? { extraYaml: `buffer: { ${BUFFER_EXTRA} }` } : {}) });
  children.push(gateway);
  await gateway.waitFor((l) => jsonField(l, (o) => (o.msg === 'shard map read; pacing each shard' ? true : undefined)), 30_000);
  const pid = gateway.proc.pid!;

  const sim = startLoad(port, MINUTES * 60);
  children.push(sim);
  const summary = simSummary(sim, MINUTES * 60);

  const started = Date.now();
  const callsAtStart = proxy.stats().putRecordsCalls;
  const samples: Sample[] = [];
  let done = false;
  void summary.finally(() => (done = true)).catch(() => undefined);
  // Bounded: ends with the simulator's summary, or at its duration plus two minutes.
  while (!done && Date.now() - started < (MINUTES * 60 + 120) * 1000) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    if (done) break;
    samples.push({ atS: (Date.now() - started) / 1000, rssMiB: rssMiB(pid), threads: threadCpuMs(pid) });
    const last = samples.at(-1)!;
    process.stderr.write(`soak ${fmt(last.atS)} s: RSS ${fmt(last.rssMiB, 1)} MiB, CPU ${fmt(cpuTotalMs(last.threads))} ms\n`);
  }
  const run = await summary;

  // Every acknowledged reading reaches Kinesis (the proxy counts what it accepted).
  const drainStarted = Date.now();
  while (proxy.stats().userRecordsAccepted < run.acked && Date.now() - drainStarted < DRAIN_TIMEOUT_MS) await new Promise((r) => setTimeout(r, 200));
  const accepted = proxy.stats().userRecordsAccepted;
  const calls = proxy.stats().putRecordsCalls - callsAtStart;
  const peak = peakRssMiB(pid);
  await gateway.stop();

  const after = samples.filter((s) => s.atS >= WARMUP_S);
  requireMeasured(after.length >= 12, `only ${after.length} samples after the warm-up`);
  const firstMinute = after.filter((s) => s.atS < after[0]!.atS + 60);
  const lastMinute = after.filter((s) => s.atS > after.at(-1)!.atS - 60);
  const growth = mean(lastMinute.map((s) => s.rssMiB)) - mean(firstMinute.map((s) => s.rssMiB));
  const span = after.at(-1)!.atS - after[0]!.atS;
  // The CPU as a share of a core, by thread (the main thread against the others) and by user and system.
  const share = (pick: (t: ThreadCpu) => number): number => (pick(after.at(-1)!.threads) - pick(after[0]!.threads)) / (span * 1000);
  const mainUser = share((t) => t.main.userMs);
  const mainSystem = share((t) => t.main.systemMs);
  const otherUser = share((t) => t.others.userMs);
  const otherSystem = share((t) => t.others.systemMs);
  const cpuShare = mainUser + mainSystem + otherUser + otherSystem;
  const usPerReading = (cpuShare * 1e6) / RATE;
  const minRss = Math.min(...after.map((s) => s.rssMiB));
  const maxRss = Math.max(...after.map((s) => s.rssMiB));

  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
  } catch {
    // Not a git checkout: the table says so.
  }
  const table = [
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}; ` +
      `${fmt(RATE)} readings/s from ${DEVICES} devices (QoS 1, ~200 B) for ${MINUTES} min, ${SHARDS}-shard stream behind the shard-limit proxy, pacing on` +
      `${NODE_ARGS.length ? `, gateway node options \`${NODE_ARGS.join(' ')}\`` : ''}${KINESIS_EXTRA ? `, kinesis \`${KINESIS_EXTRA}\`` : ''}${BUFFER_EXTRA ? `, buffer \`${BUFFER_EXTRA}\`` : ''}; warm-up ${WARMUP_S} s.`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| readings acknowledged / in Kinesis | ${fmt(run.acked)} / ${fmt(accepted)} | all |`,
    `| RSS growth, first to last minute after warm-up | ${fmt(growth, 1)} MiB | < 5 MiB — ${growth < 5 ? 'PASS' : 'FAIL'} |`,
    `| RSS after warm-up, min – max | ${fmt(minRss, 1)} – ${fmt(maxRss, 1)} MiB | |`,
    `| peak RSS (VmHWM, whole run) | ${fmt(peak, 1)} MiB | ≤ 100 MiB — ${peak <= 100 ? 'PASS' : 'FAIL'} |`,
    `| PutRecords calls (whole run) | ${fmt(calls)}: ${fmt(calls / (MINUTES * 60), 1)} per second, ${fmt(accepted / Math.max(1, calls), 1)} readings per call | |`,
    `| gateway CPU after warm-up | ${fmt(cpuShare * 100, 1)} % of a core (${fmt(usPerReading, 1)} µs per reading) | ≤ 3 % — ${cpuShare <= 0.03 ? 'PASS' : 'FAIL'} |`,
    `| of which the main thread / the other threads | ${fmt((mainUser + mainSystem) * 100, 1)} % (user ${fmt(mainUser * 100, 1)}, system ${fmt(mainSystem * 100, 1)}) / ${fmt((otherUser + otherSystem) * 100, 1)} % (user ${fmt(otherUser * 100, 1)}, system ${fmt(otherSystem * 100, 1)}) | |`,
    floor
      ? `| floor: aedes alone, same load, ${FLOOR_S} s (after ${FLOOR_WARMUP_S} s) | ${fmt(floor.cpuShare * 100, 1)} % of a core (${fmt((floor.cpuShare * 1e6) / RATE, 1)} µs per reading; main thread ${fmt(floor.mainShare * 100, 1)} %; ${fmt(floor.acked)} acknowledged) | |`
      : '| floor: aedes alone | not measured (`--floor-seconds 0`) | |',
  ].join('\n');
  const series = samples.map((s) => `${fmt(s.atS)}\t${fmt(s.rssMiB, 1)}\t${fmt(cpuTotalMs(s.threads))}`).join('\n');
  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(path.join(repoRoot, 'bench/results/soak.md'), `${table}\n\nSamples (s, RSS MiB, CPU ms):\n\n\`\`\`\n${series}\n\`\`\`\n`);
  process.stdout.write(`\n${table}\n`);
  if (accepted < run.acked) {
    process.stdout.write(`FAIL: ${run.acked - accepted} acknowledged readings did not reach Kinesis within ${DRAIN_TIMEOUT_MS / 1000} s\n`);
    process.exitCode = 1;
  }
} finally {
  for (const c of children.reverse()) await c.stop();
  await proxy?.close();
  await rm(dir, { recursive: true, force: true });
}
