/**
 * The MQTT client source under load: device-sim publishers (QoS 1, ~200-byte readings) → mosquitto →
 * tidegate subscribed as a client (child process, fsync durability) → Kinesis emulator (own process),
 * against a bare MQTT.js subscriber on the same mosquitto that acknowledges at once and stores nothing,
 * receiving the same load in the same round. Bounded: `--readings` per phase, `--rounds`, and a deadline
 * per phase. Usage: npx tsx bench/mqtt-client.ts [--rounds 3 --readings 20000]
 */
import { execSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { MOSQUITTO, startMosquitto } from '../test/helpers/mosquitto.js';
import { cpuMs, jsonField, repoRoot, spawnNode, type Child } from './processes.js';
import { StreamWatch } from './stream-watch.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, readings: { type: 'string', default: '20000' } } });
const ROUNDS = Number(args.rounds);
const READINGS = Number(args.readings);
const DEVICES = 10;
const PAYLOAD_BYTES = 200;
const SHARDS = 4;
const IN_FLIGHT = 1_000;
const PHASE_DEADLINE_MS = 180_000;

interface Round {
  bare: number;
  committed: number;
  tidegate: number;
  ratio: number;
  cpuUsPerReading: number;
}

const publishers = (url: string): Child =>
  spawnNode(['--import', 'tsx', 'device-sim/main.ts', '--url', url, '--devices', String(DEVICES), '--qos', '1', '--payload-bytes', String(PAYLOAD_BYTES), '--count', String(READINGS), '--total-rate', '200000', '--json']);
const startedAt = (child: Child): Promise<number> =>
  child.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? Date.parse(o.startedAt as string) : undefined)), PHASE_DEADLINE_MS);

/** When tidegate's `readings_buffered_total` reached `target` (polled on /metrics every 100 ms), or null at the deadline. */
async function committedBy(metricsUrl: string, target: number): Promise<number | null> {
  const until = Date.now() + PHASE_DEADLINE_MS;
  while (Date.now() < until) {
    const text = await (await fetch(metricsUrl)).text();
    const value = Number(/^tidegate_readings_buffered_total (\d+)/m.exec(text)?.[1] ?? 0);
    if (value >= target) return Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

async function round(n: number): Promise<Round> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-mqtt-client-'));
  const children: Child[] = [];
  await mkdir(path.join(dir, 'broker'));
  // Both subscribers speak MQTT 5 and announce a Receive Maximum of IN_FLIGHT, which mosquitto honours.
  const broker = await startMosquitto(path.join(dir, 'broker'), { quiet: true });
  try {
    // Baseline: the bare subscriber, same broker, same load.
    const bare = spawnNode(['--import', 'tsx', 'bench/bare-subscriber.ts', '--url', broker.url, '--count', String(READINGS), '--receive-maximum', String(IN_FLIGHT), '--timeout-ms', String(PHASE_DEADLINE_MS)]);
    children.push(bare);
    await bare.waitFor((l) => jsonField(l, (o) => (o.ready ? true : undefined)));
    const bareLoad = publishers(broker.url);
    children.push(bareLoad);
    const bareDone = await bare.waitFor((l) => jsonField(l, (o) => (typeof o.received === 'number' ? (o as { received: number; lastAt: number }) : undefined)), PHASE_DEADLINE_MS + 10_000);
    const bareStart = await startedAt(bareLoad);
    if (bareDone.received < READINGS) throw new Error(`round ${n}: the bare subscriber received ${bareDone.received} of ${READINGS}`);
    const bareRate = READINGS / ((bareDone.lastAt - bareStart) / 1000);

    // tidegate subscribed to the same broker, forwarding to the emulator.
    const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
    children.push(emulator);
    const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
    const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
    await ensureStream(kinesis, 'site', SHARDS, AbortSignal.timeout(10_000));
    const config = path.join(dir, 'tidegate.yaml');
    await writeFile(
      config,
      [
        'gatewayId: bench',
        `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
        'log: { level: info }',
        'mqtt: { listeners: [{ host: 127.0.0.1, port: 0 }] }',
        'status: { port: 0 }',
        `kinesis: { endpoint: ${JSON.stringify(endpoint)}, region: us-east-1, streamName: site }`,
        `siteBrokers: [{ name: site, url: "${broker.url}", clientId: bench-tidegate, protocolVersion: 5, maxInFlight: ${IN_FLIGHT}, subscriptions: [{ topic: "devices/#", qos: 1 }] }]`,
      ].join('\n'),
    );
    const gateway = spawnNode(['--import', 'tsx', 'src/main.ts', 'run', '--config', config], { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' });
    children.push(gateway);
    const status = await gateway.waitFor((l) => jsonField(l, (o) => (o.msg?.startsWith('status server ready') ? `http://${o.host}:${o.port}/metrics` : undefined)), 60_000);
    await gateway.waitFor((l) => jsonField(l, (o) => (o.msg === 'subscribed to site broker' ? true : undefined)), 60_000);
    const watch = new StreamWatch(kinesis, 'site');
    await watch.init();
    const cpuBefore = cpuMs(gateway.proc.pid!);
    const load = publishers(broker.url);
    children.push(load);
    const [committedAt, visibleAt] = await Promise.all([committedBy(status, READINGS), watch.until(READINGS, PHASE_DEADLINE_MS, 50)]);
    const loadStart = await startedAt(load);
    if (visibleAt === null) throw new Error(`round ${n}: only ${watch.count} of ${READINGS} readings became visible`);
    const tidegateRate = READINGS / ((visibleAt - loadStart) / 1000);
    if (committedAt === null) throw new Error(`round ${n}: tidegate did not commit ${READINGS} readings in time`);
    const committedRate = READINGS / ((committedAt - loadStart) / 1000);
    const cpuUsPerReading = ((cpuMs(gateway.proc.pid!) - cpuBefore) * 1000) / READINGS;
    kinesis.destroy();
    const result: Round = { bare: bareRate, committed: committedRate, tidegate: tidegateRate, ratio: tidegateRate / bareRate, cpuUsPerReading };
    process.stderr.write(`round ${n}: ${JSON.stringify({ ...result, bareMs: bareDone.lastAt - bareStart, committedMs: committedAt - loadStart, visibleMs: visibleAt - loadStart, loadAverage: os.loadavg()[0] })}\n`);
    return result;
  } finally {
    for (const c of children.reverse()) await c.stop();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rounds: Round[] = [];
for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(i));
const m = (k: keyof Round): number => median(rounds.map((r) => r[k]));
const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
const mosquittoVersion = execSync(`${MOSQUITTO} -h || true`).toString().split('\n')[0]!.trim();

const table = [
  `Median of ${ROUNDS} rounds, ${fmt(READINGS)} QoS 1 readings of ~${PAYLOAD_BYTES} B from ${DEVICES} device-sim clients into ${mosquittoVersion}, ` +
    `one subscriber on devices/# (MQTT 5, Receive Maximum ${IN_FLIGHT}), ${SHARDS}-shard stream, ${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ` +
    `${new Date().toISOString().slice(0, 10)}. Rates from the first publish to the last reading received (bare) or visible in the stream (tidegate).`,
  '',
  '| measure | readings/s | ratio |',
  '|---|---|---|',
  `| bare MQTT.js subscriber on the same mosquitto: acks at once, stores nothing | ${fmt(m('bare'))} | 1.00 |`,
  `| tidegate mqtt_client source: committed to its fsync'd buffer and acknowledged (first publish → last commit) | ${fmt(m('committed'))} | ${fmt(median(rounds.map((r) => r.committed / r.bare)), 2)} |`,
  `| **tidegate end to end**: mqtt_client source → fsync'd buffer → visible in the Kinesis emulator | **${fmt(m('tidegate'))}** | **${fmt(m('ratio'), 2)}** (rounds: ${rounds.map((r) => fmt(r.ratio, 2)).join(', ')}) |`,
  `| tidegate CPU per reading (user + system) | ${fmt(m('cpuUsPerReading'), 1)} µs | |`,
].join('\n');
process.stdout.write(`${table}\n`);
