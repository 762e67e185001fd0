/**
 * device-sim throughput: readings/s the simulator alone sustains against aedes at QoS 0 and QoS 1, beside
 * a bare mqtt.js publisher loop (same connections, same ~200-byte payload, same in-flight window) measured
 * in the same run. The broker runs in its own process, and every publisher run in a fresh process of its
 * own, so on two cores the publisher and the broker each have one. QoS 0 counts readings written to the
 * socket (no acks exist); QoS 1 counts PUBACKs. Medians over rounds.
 *
 * Usage: npx tsx bench/device-sim.ts [--rounds 3] [--readings 200000]
 */
import { execFile, execSync, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, type MqttClient } from 'mqtt';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAYLOAD_BYTES = 200;
const WINDOW = 100; // in-flight publishes per connection at QoS 1: device-sim's default --max-inflight
const CHILD_TIMEOUT_MS = 180_000;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    readings: { type: 'string', default: '200000' },
    child: { type: 'string' },
    url: { type: 'string' },
    qos: { type: 'string' },
    devices: { type: 'string' },
    connections: { type: 'string' },
  },
});

interface Result {
  ratePerSec: number;
  p50?: number;
  p99?: number;
  cpuUsPerReading: number;
}

/** The bare loop: pre-built payload, publish as fast as the socket (QoS 0) or the window (QoS 1) allows. */
async function bareLoop(url: string, qos: 0 | 1, connections: number, total: number): Promise<Result> {
  const clients = await Promise.all(
    Array.from({ length: connections }, (_, i) =>
      new Promise<MqttClient>((resolve) => {
        const c = connect(url, { clientId: `bare-${i}-${process.pid}`, queueQoSZero: false });
        c.once('connect', () => resolve(c));
      }),
    ),
  );
  const body = JSON.stringify({ seq: 1, ts: Date.now(), boot: '0a1b2c3d', temperature: 21.5, humidity: 45.2 });
  const payload = `${body.slice(0, -1)},"pad":"${'x'.repeat(PAYLOAD_BYTES - body.length - 9)}"}`;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    const pump = (c: MqttClient, st: { inflight: number }): void => {
      while (sent < total && (qos === 0 ? c.connected && !c.stream.writableNeedDrain : st.inflight < WINDOW)) {
        sent++;
        st.inflight++;
        c.publish(`devices/bare-${c.options.clientId}/telemetry`, payload, { qos }, () => {
          st.inflight--;
          if (++done === total) resolve();
          else if (qos === 1) pump(c, st);
        });
      }
      if (qos === 0 && sent < total) c.stream.once('drain', () => pump(c, st));
    };
    for (const c of clients) pump(c, { inflight: 0 });
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return { ratePerSec: (total * 1000) / ms, cpuUsPerReading: (cpu.user + cpu.system) / total };
}

async function simRun(url: string, qos: 0 | 1, devices: number, connections: number, total: number): Promise<Result> {
  const { runSimulation } = await import('../device-sim/simulator.js');
  const cpu0 = process.cpuUsage();
  // A target far above what one core can do: the run goes as fast as acks (QoS 1) or the socket (QoS 0) allow.
  const s = await runSimulation({ url, qos, devices, connections, count: total, totalRate: 10_000_000, payloadBytes: PAYLOAD_BYTES, seed: 1 });
  const cpu = process.cpuUsage(cpu0);
  if (s.acked !== total) throw new Error(`device-sim acknowledged ${s.acked} of ${total}`);
  return { ratePerSec: s.ratePerSec, p50: s.ackLatencyMs?.p50, p99: s.ackLatencyMs?.p99, cpuUsPerReading: (cpu.user + cpu.system) / total };
}

if (args.child) {
  const qos = Number(args.qos) as 0 | 1;
  const total = Number(args.readings);
  const result =
    args.child === 'bare'
      ? await bareLoop(args.url!, qos, Number(args.connections), total)
      : await simRun(args.url!, qos, Number(args.devices), Number(args.connections), total);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** aedes on an ephemeral loopback port in its own process, acknowledging without storing. */
async function startBroker(): Promise<{ url: string; proc: ChildProcess }> {
  const code =
    "import net from 'node:net'; import { Aedes } from 'aedes';" +
    'const b = await Aedes.createBroker(); const s = net.createServer(b.handle);' +
    "s.listen(0, '127.0.0.1', () => console.log(s.address().port)); process.on('SIGTERM', () => process.exit(0));";
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('aedes did not start within 10 s')), 10_000);
    proc.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  return { url: `mqtt://127.0.0.1:${port}`, proc };
}

function child(extra: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/device-sim.ts', '--readings', args.readings!, ...extra],
      { cwd: repoRoot, timeout: CHILD_TIMEOUT_MS, env: { ...process.env } },
      (err, stdout, stderr) => (err ? reject(new Error(`${extra.join(' ')}: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Result)),
    );
  });
}

interface Row {
  label: string;
  kind: 'bare' | 'sim';
  devices: number;
  connections: number;
}

const ROWS: Row[] = [
  { label: 'bare mqtt.js publish loop', kind: 'bare', devices: 10, connections: 10 },
  { label: 'device-sim, 10 devices', kind: 'sim', devices: 10, connections: 10 },
  { label: 'device-sim, 10,000 devices (shared connections)', kind: 'sim', devices: 10_000, connections: 200 },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number | undefined, d = 0): string => (x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

const rounds = Number(args.rounds);
const results = new Map<string, Result[]>();
for (let r = 1; r <= rounds; r++) {
  for (const qos of [0, 1] as const) {
    for (const row of ROWS) {
      // A fresh broker per measurement: no session state or garbage carried over between publishers.
      const broker = await startBroker();
      try {
        const res = await child(['--child', row.kind, '--url', broker.url, '--qos', String(qos), '--devices', String(row.devices), '--connections', String(row.connections)]);
        const key = `${row.label}|${qos}`;
        results.set(key, [...(results.get(key) ?? []), res]);
        process.stderr.write(`round ${r} QoS ${qos} ${row.label}: ${fmt(res.ratePerSec)} readings/s\n`);
      } finally {
        broker.proc.kill('SIGTERM');
      }
    }
  }
}

const pick = (label: string, qos: number, f: (r: Result) => number | undefined): number | undefined => {
  const xs = (results.get(`${label}|${qos}`) ?? []).map(f).filter((v): v is number => v !== undefined);
  return xs.length ? median(xs) : undefined;
};
const bare = (qos: number): number => pick(ROWS[0]!.label, qos, (r) => r.ratePerSec)!;
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
} catch {
  // not a git checkout
}
const lines = [
  `Median of ${rounds} rounds, ${fmt(Number(args.readings))} readings of ${PAYLOAD_BYTES} B per measurement, aedes in its own process, ` +
    `each publisher in a fresh process, ${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}.`,
  'QoS 0: written to the socket; QoS 1: PUBACKs received; in-flight window 100 per connection.',
  '',
  '| publisher | devices / connections | QoS 0 readings/s | QoS 1 readings/s | vs bare loop (QoS 0 / 1) | QoS 1 PUBACK p50 / p99 | CPU per reading, QoS 0 / 1 |',
  '|---|---|---|---|---|---|---|',
  ...ROWS.map((row) => {
    const q0 = pick(row.label, 0, (r) => r.ratePerSec);
    const q1 = pick(row.label, 1, (r) => r.ratePerSec);
    const vs = row.kind === 'bare' ? '1.00 / 1.00' : `${fmt((q0 ?? NaN) / bare(0), 2)} / ${fmt((q1 ?? NaN) / bare(1), 2)}`;
    const lat = row.kind === 'bare' ? '–' : `${fmt(pick(row.label, 1, (r) => r.p50), 1)} / ${fmt(pick(row.label, 1, (r) => r.p99), 1)} ms`;
    const cpu = `${fmt(pick(row.label, 0, (r) => r.cpuUsPerReading), 1)} / ${fmt(pick(row.label, 1, (r) => r.cpuUsPerReading), 1)} µs`;
    return `| ${row.label} | ${fmt(row.devices)} / ${fmt(row.connections)} | ${fmt(q0)} | ${fmt(q1)} | ${vs} | ${lat} | ${cpu} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
