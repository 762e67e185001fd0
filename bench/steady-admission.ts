/**
 * Steady-rate admission benchmark: the way in alone (decode, group commit into a real LevelDB with fsync,
 * acknowledgement) at a steady rate, one reading per event-loop turn as many devices publishing steadily
 * give it, without the broker, the sink or the emulator sharing the cores. Compares the built tree (`dist`)
 * with a baseline build of another commit in the same run, rounds alternating, each run in a fresh process
 * (bench/steady-admission-worker.mjs). Reports CPU per reading (user + system, every thread) and the
 * admit → durable latency, medians over rounds, and the median of the per-round CPU ratios.
 * `--other-interval-ms N` adds this tree with `buffer.commitIntervalMs: N` as a further variant (the
 * default interval is 10 ms): what a commit costs, against the latency a longer interval adds.
 *
 * Usage: npx tsx bench/steady-admission.ts [--baseline /path/to/other/checkout] [--other-interval-ms 25]
 *        [--rounds 8] [--rate 1000] [--seconds 10] [--warmup-seconds 3]
 *   The baseline is a checkout with its own `dist` built (`git worktree add /tmp/base <rev>`, link
 *   node_modules, `npx tsc -p tsconfig.build.json` there).
 * Bounded: rounds × variants runs of warm-up + seconds each, each killed after 60 s more.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execSync } from 'node:child_process';
import { jsonField, repoRoot, spawnNode } from './processes.js';
import { requireMeasured } from './not-measured.js';
import { median } from './median.js';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    'warmup-seconds': { type: 'string', default: '3' },
    'other-interval-ms': { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WARMUP_S = Number(args['warmup-seconds']);

interface Run {
  acked: number;
  failed: number;
  rate: number;
  cpuUsPerReading: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

interface Variant {
  name: string;
  dir: string;
  commitIntervalMs: number;
}

async function measure({ dir: checkout, commitIntervalMs }: Variant): Promise<Run> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-steady-'));
  try {
    const child = spawnNode([path.join(repoRoot, 'bench/steady-admission-worker.mjs'), '--dist', path.join(checkout, 'dist'), '--dir', path.join(dir, 'data'), '--rate', String(RATE), '--seconds', String(SECONDS), '--warmup-seconds', String(WARMUP_S), '--commit-interval-ms', String(commitIntervalMs)]);
    const run = await child.waitFor((line) => jsonField<Run>(line, (o) => (typeof o.cpuUsPerReading === 'number' ? (o as Run) : undefined)), (WARMUP_S + SECONDS + 60) * 1000);
    await child.stop();
    requireMeasured(run.failed === 0 && run.acked === Math.round(RATE * (WARMUP_S + SECONDS)), `${checkout}: ${run.acked} acknowledged, ${run.failed} failed`);
    return run;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const commitOf = (dir: string): string => {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: dir }).toString().trim() + (execSync('git status --porcelain --untracked-files=no', { cwd: dir }).toString().trim() ? ' + changes' : '');
  } catch {
    return 'unknown';
  }
};

const variants: Variant[] = [
  ...(args.baseline ? [{ name: 'baseline', dir: path.resolve(args.baseline), commitIntervalMs: 10 }] : []),
  { name: 'this tree', dir: repoRoot, commitIntervalMs: 10 },
  ...(args['other-interval-ms'] ? [{ name: `this tree, ${args['other-interval-ms']} ms commits`, dir: repoRoot, commitIntervalMs: Number(args['other-interval-ms']) }] : []),
];
requireMeasured(variants.every((v) => Number.isInteger(v.commitIntervalMs) && v.commitIntervalMs >= 0), '--other-interval-ms must be a whole number of milliseconds');
const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
for (let round = 1; round <= ROUNDS; round++) {
  // Alternating, and the order flipped each round, so a drift of the machine falls on all alike.
  for (const v of round % 2 === 1 ? variants : [...variants].reverse()) {
    const run = await measure(v);
    runs.get(v.name)!.push(run);
    console.log(`round ${round} ${v.name}: ${run.cpuUsPerReading.toFixed(1)} µs per reading, ack p50 ${run.ackP50Ms.toFixed(2)} ms, p99 ${run.ackP99Ms.toFixed(2)} ms, ${run.rate.toFixed(0)} readings/s`);
  }
}

console.log(`\n${ROUNDS} rounds of ${WARMUP_S} + ${SECONDS} s at ${RATE} readings/s, one per turn, fsync; ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| build | commit interval | CPU per reading (median, min – max) | ack p50 / p99 (medians) |');
console.log('|---|---|---|---|');
for (const v of variants) {
  const rs = runs.get(v.name)!;
  const cpu = rs.map((r) => r.cpuUsPerReading);
  console.log(`| ${v.name} (${commitOf(v.dir)}) | ${v.commitIntervalMs} ms | ${median(cpu).toFixed(1)} µs (${Math.min(...cpu).toFixed(1)} – ${Math.max(...cpu).toFixed(1)}) | ${median(rs.map((r) => r.ackP50Ms)).toFixed(2)} / ${median(rs.map((r) => r.ackP99Ms)).toFixed(2)} ms |`);
}
const reference = runs.get(variants[0]!.name)!;
for (const v of variants.slice(1)) {
  const ratios = runs.get(v.name)!.map((r, i) => r.cpuUsPerReading / reference[i]!.cpuUsPerReading);
  console.log(`\n${v.name} ÷ ${variants[0]!.name}, CPU per reading: median ${median(ratios).toFixed(2)} (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
}
