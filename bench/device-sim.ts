/**
 * device-sim throughput: readings/s the simulator alone sustains against aedes, and against mosquitto when
 * a `mosquitto` binary is found, at QoS 0 and QoS 1, beside a bare mqtt.js publisher loop (same connections,
 * same ~200-byte payload, same in-flight window) measured in the same run against the same broker. The
 * broker runs in its own process (a fresh one per measurement), and every publisher run in a fresh process
 * of its own, so on two cores the publisher and the broker each have one. QoS 0 counts readings written to
 * the socket (no acks exist); QoS 1 counts PUBACKs. Medians over rounds.
 *
 * mosquitto is looked up at --mosquitto PATH, else /usr/sbin/mosquitto, else on PATH (Debian: `apt-get
 * install mosquitto`; the system service is not needed, the bench starts its own on a free loopback port
 * with a temporary config). Without it the mosquitto rows are skipped, with one line saying so.
 *
 * Usage: npx tsx bench/device-sim.ts [--rounds 3] [--readings 200000] [--mosquitto PATH | --no-mosquitto]
 */
import { execFile, execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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
    mosquitto: { type: 'string' },
    'no-mosquitto': { type: 'boolean', default: false },
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
  // Bounded even if orphaned (the parent killed without reaping it): a lost broker makes mqtt.js reconnect forever.
  setTimeout(() => {
    process.stderr.write(`child gave up after ${CHILD_TIMEOUT_MS / 1000} s\n`);
    process.exit(3);
  }, CHILD_TIMEOUT_MS).unref();
  const qos = Number(args.qos) as 0 | 1;
  const total = Number(args.readings);
  const result =
    args.child === 'bare'
      ? await bareLoop(args.url!, qos, Number(args.connections), total)
      : await simRun(args.url!, qos, Number(args.devices), Number(args.connections), total);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

interface Broker {
  url: string;
  stop(): Promise<void>;
}

/** Broker and publisher processes alive right now, with their cleanup: none outlives the bench, whatever the way out. */
const live = new Map<ChildProcess, (() => void) | undefined>();
process.once('exit', () => {
  for (const [p, cleanup] of live) {
    p.kill('SIGKILL');
    cleanup?.();
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    // SIGTERM, and wait (at most 3 s) so the children are reaped here rather than left to init; 'exit' SIGKILLs the rest.
    const waits = [...live.keys()].map((p) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : (p.once('exit', () => resolve()), p.kill('SIGTERM')))));
    void Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3_000))]).then(() => process.exit(130));
  });
}

/** Tracks a child process; stop() sends SIGTERM, then SIGKILL after 5 s, resolves once it has exited, then cleans up. */
function track(proc: ChildProcess, cleanup?: () => void): () => Promise<void> {
  live.set(proc, cleanup);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(proc);
    cleanup?.();
  };
}

/** aedes on an ephemeral loopback port in its own process, acknowledging without storing. */
async function startAedes(): Promise<Broker> {
  const code =
    "import net from 'node:net'; import { Aedes } from 'aedes';" +
    'const b = await Aedes.createBroker(); const s = net.createServer(b.handle);' +
    "s.listen(0, '127.0.0.1', () => console.log(s.address().port)); process.on('SIGTERM', () => process.exit(0));";
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = track(proc);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('aedes did not start within 10 s')), 10_000);
      proc.once('exit', (code) => reject(new Error(`aedes exited early (${code})`)));
      proc.stdout!.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(Number(d.toString().trim()));
      });
    });
    return { url: `mqtt://127.0.0.1:${port}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** --mosquitto, else /usr/sbin/mosquitto, else the first executable `mosquitto` on PATH. */
function findMosquitto(): { bin?: string; why?: string } {
  if (args['no-mosquitto']) return { why: '--no-mosquitto given' };
  const executable = (p: string): boolean => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (args.mosquitto) return executable(args.mosquitto) ? { bin: args.mosquitto } : { why: `--mosquitto ${args.mosquitto} is not an executable file` };
  const candidates = ['/usr/sbin/mosquitto', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'mosquitto'))];
  const bin = candidates.find(executable);
  return bin ? { bin } : { why: 'no mosquitto binary at /usr/sbin/mosquitto or on PATH (Debian: apt-get install mosquitto)' };
}

/** `mosquitto -h` prints its version on the first line (and exits with status 3). */
function mosquittoVersion(bin: string): string {
  let out = '';
  try {
    out = execFileSync(bin, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown version';
}

/** A port nothing listens on right now (the kernel's pick); mosquitto binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(1_000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/**
 * mosquitto on a free loopback port in its own process, from a temporary config: anonymous, no persistence,
 * no limit on in-flight or queued QoS 1 messages (there are no subscribers, so nothing queues anyway).
 * Resolves once the port accepts connections; a lost race for the port is retried with another one.
 */
async function startMosquitto(bin: string): Promise<Broker> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tidegate-bench-mosquitto-'));
    const conf = path.join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'max_inflight_messages 0',
        'max_queued_messages 0',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const stop = track(proc, () => rmSync(dir, { recursive: true, force: true }));
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && !spawnError && proc.exitCode === null && proc.signalCode === null) {
      if (await canConnect(port)) {
        ready = proc.exitCode === null; // the port is ours only if our mosquitto is still up
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (ready) return { url: `mqtt://127.0.0.1:${port}`, stop };
    await stop();
    const why = spawnError?.message ?? (proc.exitCode !== null ? `exited with status ${proc.exitCode}` : 'did not accept connections within 10 s');
    if (attempt >= 3 || spawnError) throw new Error(`mosquitto (${bin}) on 127.0.0.1:${port}: ${why}\n${stderr.join('')}`);
    process.stderr.write(`mosquitto on 127.0.0.1:${port}: ${why}; retrying on another port\n`);
  }
}

function child(extra: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const proc = execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/device-sim.ts', '--readings', args.readings!, ...extra],
      { cwd: repoRoot, timeout: CHILD_TIMEOUT_MS, env: { ...process.env } },
      (err, stdout, stderr) => {
        live.delete(proc);
        if (err) reject(new Error(`${extra.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Result);
      },
    );
    live.set(proc, undefined);
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

interface BrokerKind {
  name: string;
  /** What the header says about it. */
  note: string;
  start(): Promise<Broker>;
}

const BROKERS: BrokerKind[] = [{ name: 'aedes', note: 'aedes (Node, acking without storing)', start: startAedes }];
const mosq = findMosquitto();
let skipped: string | undefined;
if (mosq.bin) {
  const bin = mosq.bin;
  BROKERS.push({ name: 'mosquitto', note: `mosquitto ${mosquittoVersion(bin)} (${bin}, no persistence)`, start: () => startMosquitto(bin) });
} else {
  skipped = `mosquitto rows skipped: ${mosq.why}.`;
  process.stderr.write(`${skipped}\n`);
}

const rounds = Number(args.rounds);
const results = new Map<string, Result[]>();
const keyOf = (broker: string, label: string, qos: number): string => `${broker}|${label}|${qos}`;
for (let r = 1; r <= rounds; r++) {
  for (const qos of [0, 1] as const) {
    for (const b of BROKERS) {
      for (const row of ROWS) {
        // A fresh broker per measurement: no session state or garbage carried over between publishers.
        const broker = await b.start();
        try {
          const res = await child(['--child', row.kind, '--url', broker.url, '--qos', String(qos), '--devices', String(row.devices), '--connections', String(row.connections)]);
          const key = keyOf(b.name, row.label, qos);
          results.set(key, [...(results.get(key) ?? []), res]);
          process.stderr.write(`round ${r} QoS ${qos} ${b.name} ${row.label}: ${fmt(res.ratePerSec)} readings/s\n`);
        } finally {
          await broker.stop();
        }
      }
    }
  }
}

const pick = (broker: string, label: string, qos: number, f: (r: Result) => number | undefined): number | undefined => {
  const xs = (results.get(keyOf(broker, label, qos)) ?? []).map(f).filter((v): v is number => v !== undefined);
  return xs.length ? median(xs) : undefined;
};
const bare = (broker: string, qos: number): number => pick(broker, ROWS[0]!.label, qos, (r) => r.ratePerSec)!;
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
} catch {
  // not a git checkout
}
const lines = [
  `Median of ${rounds} rounds, ${fmt(Number(args.readings))} readings of ${PAYLOAD_BYTES} B per measurement, each broker in its own process ` +
    `(fresh per measurement), each publisher in a fresh process, ${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}.`,
  `Brokers: ${BROKERS.map((b) => b.note).join('; ')}.`,
  'QoS 0: written to the socket; QoS 1: PUBACKs received; in-flight window 100 per connection. "vs bare loop" compares with the bare loop against the same broker.',
  ...(skipped ? [skipped] : []),
  '',
  '| broker | publisher | devices / connections | QoS 0 readings/s | QoS 1 readings/s | vs bare loop (QoS 0 / 1) | QoS 1 PUBACK p50 / p99 | CPU per reading, QoS 0 / 1 |',
  '|---|---|---|---|---|---|---|---|',
  ...BROKERS.flatMap((b) =>
    ROWS.map((row) => {
      const q0 = pick(b.name, row.label, 0, (r) => r.ratePerSec);
      const q1 = pick(b.name, row.label, 1, (r) => r.ratePerSec);
      const vs = row.kind === 'bare' ? '1.00 / 1.00' : `${fmt((q0 ?? NaN) / bare(b.name, 0), 2)} / ${fmt((q1 ?? NaN) / bare(b.name, 1), 2)}`;
      const lat = row.kind === 'bare' ? '–' : `${fmt(pick(b.name, row.label, 1, (r) => r.p50), 1)} / ${fmt(pick(b.name, row.label, 1, (r) => r.p99), 1)} ms`;
      const cpu = `${fmt(pick(b.name, row.label, 0, (r) => r.cpuUsPerReading), 1)} / ${fmt(pick(b.name, row.label, 1, (r) => r.cpuUsPerReading), 1)} µs`;
      return `| ${b.name} | ${row.label} | ${fmt(row.devices)} / ${fmt(row.connections)} | ${fmt(q0)} | ${fmt(q1)} | ${vs} | ${lat} | ${cpu} |`;
    }),
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
