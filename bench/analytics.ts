/**
 * Edge analytics benchmark (issue "Edge analytics"): gateway CPU per reading added by rules, end to end,
 * against pass-through measured in the same round. device-sim (QoS 1, ~200-byte readings with a temperature)
 * → the built gateway → Kinesis emulator, four variants per round, run one after the other on the same
 * emulator: (p) pass-through, (a) 10 filter/compute rules, (b) a 1-minute tumbling window per device,
 * (c) both. Raw readings are kept in every variant, so each run ends when all N readings are visible, and
 * the difference in CPU is the rules' cost. Also, on virtual time (`tidegate rules test`'s machinery): Kinesis
 * records per reading of 1 Hz sensors aggregated per minute with the raw readings dropped.
 * Usage: npm run bench:analytics [-- --rounds 5 --readings 60000]
 * The defaults: with 3 rounds of 30,000 the per-round differences spread over ±3 µs, as wide as the goal
 * (10 rules ≤ 5 µs); five rounds of 60,000 halve the fixed costs' share per reading and the spread.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
// The shipped transforms register themselves on import, their factories and their config schemas apart (the
// gateway gets both through its config module; the running gateway never loads the schemas).
import '../src/pipeline/transforms/index.js';
import '../src/pipeline/transforms/schemas.js';
import { rulesSchema } from '../src/analytics/rules/config.js';
import { buildRules } from '../src/analytics/rules/rule-transform.js';
import { ManualClock } from '../src/core/clock.js';
import { Metrics } from '../src/core/metrics.js';
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { TransformChain } from '../src/pipeline/transform-chain.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { requireMeasured } from './not-measured.js';
import { cpuMs, jsonField, peakRssMiB, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { StreamWatch } from './stream-watch.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, readings: { type: 'string', default: '60000' } } });
const ROUNDS = Number(args.rounds);
const READINGS = Number(args.readings);
const DEVICES = 10;

const TEN_RULES = Array.from({ length: 10 }, (_, i) =>
  i % 2 === 0
    ? `  - name: compute-${i}\n    stages:\n      - type: compute\n        fields: { f${i}: "has(values.temperature) ? temperature * 9 / 5 + ${i} : 0.0" }`
    : `  - name: filter-${i}\n    stages:\n      - type: filter\n        expr: "!has(values.temperature) || (temperature > -100.0 && temperature < 200.0)"`,
).join('\n');
const WINDOW = `  - name: minute\n    stages:\n      - type: window\n        kind: tumbling\n        sizeMs: 60000\n        fields: [temperature, humidity]\n        aggregates: [count, mean, min, max]\n    raw: keep`;
const VARIANTS = {
  pass: '',
  rules10: `rules:\n${TEN_RULES}`,
  window: `rules:\n${WINDOW}`,
  both: `rules:\n${TEN_RULES}\n${WINDOW}`,
} as const;
type Variant = keyof typeof VARIANTS;

interface Run {
  cpuUsPerReading: number;
  peakRss: number;
}

const sim = (url: string): Child => spawnNode(['dist/device-sim/main.js', '--url', url, '--devices', String(DEVICES), '--qos', '1', '--payload-bytes', '200', '--json', '--count', String(READINGS), '--total-rate', '200000']);

async function runVariant(kinesis: ReturnType<typeof createKinesisClient>, endpoint: string, dir: string, variant: Variant, n: number): Promise<Run> {
  const stream = `analytics-${variant}-${n}`;
  await ensureStream(kinesis, stream, 4, AbortSignal.timeout(10_000));
  await mkdir(path.join(dir, stream), { recursive: true });
  const { gateway, port } = await startBenchGateway(path.join(dir, stream), endpoint, stream, { extraYaml: VARIANTS[variant] });
  try {
    const watch = new StreamWatch(kinesis, stream);
    await watch.init();
    const cpuBefore = cpuMs(gateway.proc.pid!);
    const load = sim(`mqtt://127.0.0.1:${port}`);
    const visibleAt = await watch.until(READINGS, 300_000, 50);
    const summary = await load.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? o : undefined)), 60_000);
    requireMeasured(visibleAt !== null, `${variant} round ${n}: only ${watch.count} of ${READINGS} readings became visible`);
    requireMeasured(summary.acked === READINGS, `${variant} round ${n}: ${summary.acked} of ${READINGS} readings acknowledged`);
    const cpuUsPerReading = ((cpuMs(gateway.proc.pid!) - cpuBefore) * 1000) / READINGS;
    return { cpuUsPerReading, peakRss: peakRssMiB(gateway.proc.pid!) };
  } finally {
    await gateway.stop();
    // The emulator allows 64 shards in all: without this, a sixth round of four 4-shard streams fails.
    await kinesis.send(new DeleteStreamCommand({ StreamName: stream }));
  }
}

/** Records per reading of 1 Hz sensors, 1-minute windows, raw dropped: on virtual time, no process involved. */
function recordsPerReading(): { readings: number; records: number } {
  const rules = rulesSchema.parse([{ name: 'minute', stages: [{ type: 'window', kind: 'tumbling', sizeMs: 60_000, fields: ['temperature'], aggregates: ['mean'] }], raw: 'drop' }]);
  const clock = new ManualClock(0);
  const chain = TransformChain.fromConfig([], { clock, logger: pino({ level: 'silent' }), metrics: new Metrics() }, { rules: buildRules(rules) });
  let records = 0;
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);
  const seconds = 30 * 60;
  for (let s = 0; s < seconds; s++) {
    const batch = Array.from({ length: 100 }, (_, d) => ({ deviceId: `d${d}`, topic: 't', ts: t0 + s * 1_000, seq: s, receivedAt: t0 + s * 1_000, values: { temperature: 20 + (s % 7) } }));
    records += chain.run(batch).readings.length;
    records += chain.tick(t0 + s * 1_000).readings.length;
  }
  records += chain.flush().readings.length;
  return { readings: seconds * 100, records };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<Variant, Run[]> = { pass: [], rules10: [], window: [], both: [] };
const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-analytics-'));
const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
try {
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  for (let n = 1; n <= ROUNDS; n++) {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const run = await runVariant(kinesis, endpoint, dir, variant, n);
      results[variant].push(run);
      process.stderr.write(`round ${n} ${variant}: ${JSON.stringify(run)}\n`);
    }
  }
  kinesis.destroy();
} finally {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
}

const cpu = (v: Variant): number => median(results[v].map((r) => r.cpuUsPerReading));
// Added cost per round (same round, same emulator), then the median of those differences.
const added = (v: Variant): number => median(results[v].map((r, i) => r.cpuUsPerReading - results.pass[i]!.cpuUsPerReading));
const fmt = (x: number, d = 1): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rpr = recordsPerReading();
const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
const table = [
  `Median of ${ROUNDS} rounds, ${READINGS.toLocaleString('en-US')} QoS 1 readings of ~200 B from ${DEVICES} clients per variant, pacing off, ${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| variant | gateway CPU per reading | added vs pass-through (same round) | peak RSS |',
  '|---|---|---|---|',
  `| pass-through | ${fmt(cpu('pass'))} µs | | ${fmt(median(results.pass.map((r) => r.peakRss)), 0)} MiB |`,
  ...(['rules10', 'window', 'both'] as const).map((v) => `| ${{ rules10: '(a) 10 filter/compute rules', window: '(b) 1-minute tumbling window per device', both: '(c) both' }[v]} | ${fmt(cpu(v))} µs | ${fmt(added(v))} µs | ${fmt(median(results[v].map((r) => r.peakRss)), 0)} MiB |`),
  '',
  `Kinesis records per reading, 100 sensors at 1 Hz for 30 min, 1-minute windows, raw readings dropped (virtual time): ${rpr.records} / ${rpr.readings} = 1/${fmt(rpr.readings / rpr.records, 0)}.`,
].join('\n');
process.stdout.write(`${table}\n`);
