/**
 * Alarms benchmark (issue "Real-time alarms and notifications"): device-sim's anomaly-detection scenario
 * (200 tanks at 1 Hz with seeded steps, spikes, stuck values, dropouts and noise bursts, and its ground
 * truth) → the built gateway → Kinesis emulator, two variants per round on the same load and the same
 * emulator: (p) pass-through, no detectors; (d) 10 detect transforms, the five of
 * config/examples/anomaly-detection.yaml at their shipped settings plus five more on the same tanks that
 * judge every reading but sit outside anything the scenario produces.
 * From (d): precision and recall per anomaly kind, detection latency from an episode's first anomalous
 * reading to the raise arriving on the broker's alarm topic, and flaps per episode, scored by device-sim's
 * alarm scoring. From both: gateway CPU per reading and peak RSS, and the detectors' added CPU per reading
 * against pass-through in the same round.
 * The scenario is shipped as 5 minutes; a shorter --duration compresses where its episodes fall (they
 * keep the shipped timing at 300 s) so that a default run of both variants stays near 5 minutes.
 * Usage: npm run bench:alarms [-- --rounds 2 --duration 60 --devices 200 --seed 14]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { connect } from 'mqtt';
import { parse, stringify } from 'yaml';
import { readTruthFile } from '../device-sim/anomalies/truth.js';
import { AlarmCollector, alarmFromBytes, type AlarmEvent } from '../device-sim/audit/alarm-records.js';
import { DEFAULT_TOLERANCE_MS } from '../device-sim/audit/alarm-audit.js';
import { scoreAlarms, type AlarmScore } from '../device-sim/audit/alarm-score.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { requireMeasured } from './not-measured.js';
import { cpuMs, jsonField, peakRssMiB, repoRoot, spawnNode, startBenchGateway } from './processes.js';
import { StreamWatch } from './stream-watch.js';
import { median } from './median.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    duration: { type: 'string', default: '60' },
    devices: { type: 'string', default: '200' },
    seed: { type: 'string', default: '14' },
  },
});
const ROUNDS = Number(args.rounds);
const DURATION_S = Number(args.duration);
const DEVICES = Number(args.devices);
const SEED = Number(args.seed);
// The EWMA learns for 20 readings before it judges, and the last episode must be over (and its raise held
// and published) before the run ends and the listener stops with it.
const WARMUP_S = 25;
const TAIL_S = 10;
const MIN_EPISODE_S = 15;
if (![ROUNDS, DURATION_S, DEVICES, SEED].every(Number.isInteger) || ROUNDS < 1 || DEVICES < 1 || DURATION_S < WARMUP_S + MIN_EPISODE_S + TAIL_S + 1 || DURATION_S > 3_600) {
  throw new Error(`--rounds, --devices and --seed must be positive integers and --duration whole seconds from ${WARMUP_S + MIN_EPISODE_S + TAIL_S + 1} to 3600`);
}

const example = parse(await readFile(path.join(repoRoot, 'config/examples/anomaly-detection.yaml'), 'utf8')) as Record<string, any>;
const shippedScenario = parse(await readFile(path.join(repoRoot, 'device-sim/scenarios/anomaly-detection.yaml'), 'utf8')) as Record<string, any>;
const EXAMPLE_DETECTORS = example.transforms as Array<Record<string, any>>;
requireMeasured(EXAMPLE_DETECTORS.length === 5 && EXAMPLE_DETECTORS.every((t) => t.type === 'detect'), 'config/examples/anomaly-detection.yaml no longer has five detect transforms');

/**
 * Five more detectors on the same tanks (every reading of every tank is judged by all ten), at levels no
 * normal walk and no injected episode reaches: their raises would count as false positives, so precision
 * stays the example's own while the CPU is that of ten detectors.
 */
const EXTRA_DETECTORS = [
  { type: 'detect', rule: 'tank-frozen', field: 'temperature_c', devices: ['tank-*'], severity: 'major', detector: { kind: 'threshold', direction: 'below', raise: -20, clear: -18 }, raiseHoldMs: 3000 },
  { type: 'detect', rule: 'pressure-burst', field: 'pressure_bar', devices: ['tank-*'], severity: 'critical', detector: { kind: 'threshold', direction: 'above', raise: 20, clear: 18 } },
  { type: 'detect', rule: 'level-drain', field: 'level_pct', devices: ['tank-*'], severity: 'major', detector: { kind: 'rate', windowMs: 3000, maxPerSecond: 20, direction: 'fall' } },
  { type: 'detect', rule: 'flow-stuck', field: 'flow_m3_h', devices: ['tank-*'], severity: 'minor', detector: { kind: 'flatline', readings: 10 } },
  { type: 'detect', rule: 'flow-overrun', field: 'flow_m3_h', devices: ['tank-*'], severity: 'warning', detector: { kind: 'threshold', direction: 'above', raise: 100, clear: 90 } },
];
const COMMON_YAML = [`pipeline: ${JSON.stringify(example.pipeline)}`, `alarms: ${JSON.stringify(example.alarms)}`].join('\n');
const VARIANTS = {
  pass: COMMON_YAML,
  detect10: `${COMMON_YAML}\ntransforms: ${JSON.stringify([...EXAMPLE_DETECTORS, ...EXTRA_DETECTORS])}`,
} as const;
type Variant = keyof typeof VARIANTS;

/** The field each kind's episodes change, and the example rule that watches it. */
const KINDS = ['spike', 'step', 'stuck', 'dropout', 'noise'] as const;
type Kind = (typeof KINDS)[number];
const fieldOf = (kind: Kind): string | null => (kind === 'dropout' ? null : (shippedScenario.anomalies as Array<Record<string, any>>).find((a) => a.kind === kind)!.field);
const ruleOf = (kind: Kind): Record<string, any> => EXAMPLE_DETECTORS.find((t) => (t.field ?? null) === fieldOf(kind))!;

/**
 * The shipped scenario at --devices, --seed and --duration. At 300 s it is the shipped one; shorter, each
 * time window shrinks in proportion, kept after the EWMA's warm-up, with episodes of at least 15 s (a
 * flatline needs 10 readings, tank-silent 5 s of silence) that end TAIL_S before the run does.
 */
function scenarioYaml(): string {
  const s = structuredClone(shippedScenario);
  const scale = DURATION_S / 300;
  const sec = (x: number): string => `${Math.round(x)}s`;
  const episode = Math.max(MIN_EPISODE_S, 60 * scale);
  const lastStart = DURATION_S - TAIL_S - episode;
  // device-sim takes a start window [from, to] with from < to.
  const from = Math.min(Math.max(WARMUP_S, 60 * scale), lastStart - 1);
  s.run = { ...s.run, duration: `${DURATION_S}s`, seed: SEED };
  s.fleets[0].count = DEVICES;
  for (const a of s.anomalies as Array<Record<string, any>>) {
    if (a.kind === 'spike') a.within = [sec(from), sec(Math.max(from + 1, Math.min(240 * scale, DURATION_S - TAIL_S)))];
    else {
      a.within = [sec(from), sec(Math.max(from + 1, Math.min(210 * scale, lastStart)))];
      a.duration = sec(episode);
    }
  }
  return stringify(s);
}

interface Run {
  cpuUsPerReading: number;
  peakRss: number;
  readings: number;
  score?: AlarmScore;
  raisesByRule?: Record<string, number>;
  /**
   * Missed episodes that began during, or at most 5 s after, a dropout of the same tank. A spike due
   * during a dropout lands on the first reading after it, where a rate window has nothing earlier to
   * compare with, and that undetected spike then masks a second one inside the window.
   */
  missedNearDropout?: number;
}

/** Collects raises from the broker's alarm topics, each timed at its arrival here. */
function listen(url: string, signal: AbortSignal): { subscribed: Promise<void>; done: Promise<AlarmCollector>; lost: () => string | undefined } {
  const collector = new AlarmCollector();
  // A listener that lost its connection mid-run missed alarms: that would read as low recall, not as a fault.
  let lost: string | undefined;
  const client = connect(url, { clientId: `bench-alarms-${process.pid}`, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 });
  client.on('message', (_topic, payload) => {
    if (payload.length === 0) return collector.addEmptyPayload();
    const parsed = alarmFromBytes(payload);
    collector.add('alarm' in parsed && parsed.alarm.transition === 'raised' ? { alarm: { ...parsed.alarm, at: Date.now() } } : parsed);
  });
  client.on('close', () => {
    if (!signal.aborted) lost ??= 'the alarm listener lost its connection during the run';
  });
  const subscribed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no alarm subscription on ${url} within 10 s`)), 10_000);
    client.on('error', (err) => {
      lost ??= `the alarm listener failed: ${err.message}`;
      reject(err);
    });
    client.once('connect', () =>
      client.subscribe(example.alarms.notify.topicPrefix + '/#', { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      }),
    );
  });
  const done = new Promise<AlarmCollector>((resolve) => {
    signal.addEventListener('abort', () => void Promise.race([client.endAsync(true), delay(10_000, undefined, { ref: false })]).finally(() => resolve(collector)), { once: true });
  });
  return { subscribed, done, lost: () => lost };
}

async function runVariant(kinesis: ReturnType<typeof createKinesisClient>, endpoint: string, dir: string, scenarioFile: string, variant: Variant, n: number): Promise<Run> {
  const stream = `alarms-${variant}-${n}`;
  const runDir = path.join(dir, stream);
  await ensureStream(kinesis, stream, 2, AbortSignal.timeout(10_000));
  await mkdir(runDir, { recursive: true });
  const { gateway, port } = await startBenchGateway(runDir, endpoint, stream, { extraYaml: VARIANTS[variant] });
  const url = `mqtt://127.0.0.1:${port}`;
  const truthFile = path.join(runDir, 'truth.jsonl');
  const stopListening = new AbortController();
  try {
    const watch = new StreamWatch(kinesis, stream);
    await watch.init();
    // Subscribed before the first reading; stopped when the run is over, since from then on every tank is
    // silent and tank-silent raises for each, which is the end of the run, not an anomaly.
    const listener = variant === 'detect10' ? listen(url, stopListening.signal) : undefined;
    await listener?.subscribed;
    const cpuBefore = cpuMs(gateway.proc.pid!);
    const load = spawnNode(['dist/device-sim/main.js', 'run', '--scenario', scenarioFile, '--url', url, '--truth', truthFile, '--json']);
    let summary: Record<string, any>;
    try {
      summary = await load.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? o : undefined)), (DURATION_S + 120) * 1000);
    } finally {
      stopListening.abort();
      // The summary is its last line: let it exit by itself (bounded), so the truth file is complete.
      if (load.proc.exitCode === null && load.proc.signalCode === null) await Promise.race([new Promise((r) => load.proc.once('exit', r)), delay(10_000, undefined, { ref: false })]);
      await load.stop();
    }
    const collector = await listener?.done;
    const lost = listener?.lost();
    requireMeasured(lost === undefined, `${variant} round ${n}: ${lost}`);
    const readings = summary.acked as number;
    requireMeasured(readings > 0 && summary.failed === 0, `${variant} round ${n}: device-sim sent ${summary.sent}, ${readings} acknowledged, ${summary.failed} failed`);
    // Alarm records share the stream with the readings, so the count only says every reading could be in.
    const visibleAt = await watch.until(readings, 120_000, 100);
    requireMeasured(visibleAt !== null, `${variant} round ${n}: only ${watch.count} records of ${readings} acknowledged readings became visible`);
    const cpuUsPerReading = ((cpuMs(gateway.proc.pid!) - cpuBefore) * 1000) / readings;
    const run: Run = { cpuUsPerReading, peakRss: peakRssMiB(gateway.proc.pid!), readings };
    if (collector) {
      const raises: AlarmEvent[] = collector.result.raises;
      requireMeasured(raises.length > 0, `${variant} round ${n}: no alarm arrived on the alarm topic`);
      const truth = readTruthFile(truthFile);
      run.score = scoreAlarms(truth, raises, DEFAULT_TOLERANCE_MS, Number.MAX_SAFE_INTEGER);
      const dropouts = truth.filter((t) => t.kind === 'dropout');
      run.missedNearDropout = run.score.missed.filter((m) => m.kind !== 'dropout' && dropouts.some((d) => d.device === m.device && d.start <= m.start && m.start <= d.end + 5_000)).length;
      requireMeasured(run.score.episodes > 0, `${variant} round ${n}: the run injected no anomaly (ground truth empty)`);
      run.raisesByRule = {};
      for (const r of raises) run.raisesByRule[r.rule] = (run.raisesByRule[r.rule] ?? 0) + 1;
    }
    return run;
  } finally {
    stopListening.abort();
    await gateway.stop();
  }
}

const results: Record<Variant, Run[]> = { pass: [], detect10: [] };
const startedAt = Date.now();
const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-alarms-'));
const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
try {
  const scenarioFile = path.join(dir, 'anomaly-detection.yaml');
  await writeFile(scenarioFile, scenarioYaml());
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  for (let n = 1; n <= ROUNDS; n++) {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const run = await runVariant(kinesis, endpoint, dir, scenarioFile, variant, n);
      results[variant].push(run);
      const { score, ...rest } = run;
      process.stderr.write(`round ${n} ${variant}: ${JSON.stringify({ ...rest, ...(score ? { episodes: score.episodes, detected: score.detected, falsePositives: score.falsePositives, flaps: score.flaps, missed: score.missed.slice(0, 10) } : {}) })}\n`);
    }
  }
  kinesis.destroy();
} finally {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
}

const fmt = (x: number, d = 1): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const cpu = (v: Variant): number => median(results[v].map((r) => r.cpuUsPerReading));
const added = median(results.detect10.map((r, i) => r.cpuUsPerReading - results.pass[i]!.cpuUsPerReading));
const rss = (v: Variant): number => median(results[v].map((r) => r.peakRss));

// Accuracy per kind, summed over rounds (each round is the same seeded scenario, so the rounds agree unless
// timing on the machine changed an outcome). Per-kind precision: raises that went to an episode of the kind
// over those plus the false positives on the kind's field (a dropout's alarm, tank-silent, has none).
const scores = results.detect10.map((r) => r.score!);
interface KindRow {
  episodes: number;
  detected: number;
  matched: number;
  falsePositives: number;
  flaps: number;
  p50: number[];
  p99: number[];
}
const rows = new Map<Kind, KindRow>(KINDS.map((k) => [k, { episodes: 0, detected: 0, matched: 0, falsePositives: 0, flaps: 0, p50: [], p99: [] }]));
let otherFalsePositives = 0;
for (const s of scores) {
  for (const k of KINDS) {
    const ks = s.byKind[k];
    const row = rows.get(k)!;
    if (!ks) continue;
    row.episodes += ks.episodes;
    row.detected += ks.detected;
    row.matched += ks.detected + ks.flaps;
    row.flaps += ks.flaps;
    if (ks.latencyMs) {
      row.p50.push(ks.latencyMs.p50);
      row.p99.push(ks.latencyMs.p99);
    }
  }
  for (const fp of s.falsePositiveRaises) {
    const k = KINDS.find((kind) => fieldOf(kind) === fp.field);
    if (k) rows.get(k)!.falsePositives++;
    else otherFalsePositives++;
  }
}
requireMeasured(
  KINDS.filter((k) => k !== 'noise').every((k) => rows.get(k)!.episodes > 0),
  `the scenario injected no episode of some goal kind: ${JSON.stringify(Object.fromEntries([...rows].map(([k, r]) => [k, r.episodes])))} (too few --devices?)`,
);

const secs = (ms: number): string => `${fmt(ms / 1000, 2)} s`;
// The scenario's sensors report once a second.
const READING_INTERVAL_MS = 1_000;
/**
 * How long a detector is configured to wait before it may raise at all, which no detection can beat: a
 * flatline's N equal readings (N - 1 intervals) or its `ms`, a missing-data detector's expected interval.
 * It is part of the configured hold in the goal's sense ("2 s plus the configured hold time").
 */
function detectorWaitMs(d: { kind: string; readings?: unknown; ms?: unknown; expectedIntervalMs?: unknown }): number {
  if (d.kind === 'flatline') return Math.max(typeof d.readings === 'number' ? (d.readings - 1) * READING_INTERVAL_MS : 0, typeof d.ms === 'number' ? d.ms : 0);
  if (d.kind === 'missing') return typeof d.expectedIntervalMs === 'number' ? d.expectedIntervalMs : 0;
  return 0;
}
const ratio = (a: number, b: number): string => (b === 0 ? '–' : fmt(a / b, 3));
const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
const kindLine = (k: Kind): string => {
  const r = rows.get(k)!;
  const rule = ruleOf(k);
  const hold = Number(rule.raiseHoldMs ?? 0);
  const p99 = r.p99.length > 0 ? median(r.p99) : NaN;
  const goalMs = 2_000 + hold + detectorWaitMs(rule.detector);
  const ok = (x: boolean): string => (x ? '✓' : '✗');
  const recall = r.episodes === 0 ? NaN : r.detected / r.episodes;
  const precision = r.matched + r.falsePositives === 0 ? NaN : r.matched / (r.matched + r.falsePositives);
  const goals = k === 'noise' ? '(no goal)' : `${ok(precision >= 0.95)} precision ${ok(recall >= 0.95)} recall ${ok(p99 <= goalMs)} p99 ${ok(r.flaps === 0)} flaps`;
  return `| ${k} | ${rule.rule} (${rule.detector.kind}) | ${r.episodes} | ${r.detected} | ${ratio(r.matched, r.matched + r.falsePositives)} | ${ratio(r.detected, r.episodes)} | ${r.p50.length ? secs(median(r.p50)) : '–'} | ${Number.isNaN(p99) ? '–' : secs(p99)} | ${secs(goalMs)} | ${ratio(r.flaps, r.detected)} | ${goals} |`;
};
const command = `npm run bench:alarms -- --rounds ${ROUNDS} --duration ${DURATION_S} --devices ${DEVICES} --seed ${SEED}`;
const table = [
  `\`${command}\`: ${ROUNDS} round(s) of device-sim's anomaly-detection scenario, ${DEVICES} tanks at 1 Hz for ${DURATION_S} s (seed ${SEED}${DURATION_S === 300 ? '' : ', episode windows compressed from the shipped 300 s'}), QoS 1, both variants per round; ${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}, ${fmt((Date.now() - startedAt) / 60_000)} min in all.`,
  '',
  'Detection, the example\'s five rules at their shipped settings (variant with 10 detectors; episodes summed over rounds, latency = median over rounds of each round\'s percentile, from the first anomalous reading to the raise arriving on the broker\'s alarm topic):',
  '',
  '| kind | rule | episodes | detected | precision | recall | latency p50 | latency p99 | goal p99 (2 s + hold + the detector\'s own wait) | flaps per episode | goals |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...KINDS.map(kindLine),
  '',
  `Missed episodes, summed over rounds: ${scores.reduce((a, s) => a + s.missed.length, 0)}, of which ${results.detect10.reduce((a, r) => a + r.missedNearDropout!, 0)} began during or within 5 s after a dropout of the same tank (a spike due in a dropout lands on the first reading after it, where the rate window has no earlier reading, and masks a second spike within the window; the recall above counts them as missed).`,
  `False positives on fields no episode changes (the five extra detectors): ${otherFalsePositives}. All raises per rule, round 1: ${JSON.stringify(results.detect10[0]!.raisesByRule)}.`,
  'The flatline needs 10 equal readings (9 s at 1 Hz) and tank-silent 5 s without a reading before they can raise: that configured wait is part of their goal, as a hold time is.',
  '',
  `Gateway CPU, median of ${ROUNDS} round(s), ${fmt(median(results.pass.map((r) => r.readings)), 0)} readings per run:`,
  '',
  '| variant | gateway CPU per reading | added vs pass-through (same round) | peak RSS |',
  '|---|---|---|---|',
  `| pass-through (no detectors) | ${fmt(cpu('pass'))} µs | | ${fmt(rss('pass'), 0)} MiB |`,
  `| 10 detect transforms | ${fmt(cpu('detect10'))} µs | ${fmt(added)} µs | ${fmt(rss('detect10'), 0)} MiB |`,
].join('\n');
process.stdout.write(`${table}\n`);
