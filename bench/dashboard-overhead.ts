/**
 * What watching costs: end-to-end throughput (device-sim QoS 1 → tidegate → Kinesis emulator) with the status
 * server off, against the same run with the status server on, a live dashboard client reading /events and a
 * Prometheus-style scrape of /metrics every second. Runs come in pairs, in alternating order (off-on, on-off, ...), so both see the same
 * machine; the cost is the median of the per-pair ratios. Usage: npx tsx bench/dashboard-overhead.ts [--pairs 3 --readings 40000]
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { jsonField, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { requireMeasured } from './not-measured.js';
import { StreamWatch } from './stream-watch.js';
import { median } from './median.js';

const { values: args } = parseArgs({ options: { pairs: { type: 'string', default: '3' }, readings: { type: 'string', default: '40000' } } });
const PAIRS = Number(args.pairs);
const READINGS = Number(args.readings);
const DEVICES = 10;

/** A dashboard in a browser, as far as the server can tell: one /events stream, read to the end. */
function watchDashboard(port: number): { snapshots: () => number; problem: () => string; close: () => void } {
  let snapshots = 0;
  let problem = 'no answer';
  const req = http.get({ host: '127.0.0.1', port, path: '/events' }, (res) => {
    problem = `HTTP ${res.statusCode}`;
    res.setEncoding('utf8');
    // Only snapshots of a 200 stream count: an error page is not a dashboard being served.
    if (res.statusCode === 200) res.on('data', (chunk: string) => (snapshots += chunk.split('\n\n').filter((e) => e.startsWith('data:')).length));
    else res.resume();
    res.on('error', (err) => (problem = err.message));
  });
  req.on('error', (err) => (problem = err.message));
  return { snapshots: () => snapshots, problem: () => problem, close: () => req.destroy() };
}

/** A Prometheus scrape of /metrics every second. */
function scrapeMetrics(port: number): { scrapes: () => number; problem: () => string; close: () => void } {
  let scrapes = 0;
  let problem = 'no scrape finished';
  const timer = setInterval(() => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        res.resume();
        // A scrape counts when the whole 200 answer was read.
        res.on('end', () => (res.statusCode === 200 ? (scrapes += 1) : (problem = `HTTP ${res.statusCode}`)));
      })
      .on('error', (err) => (problem = err.message));
  }, 1000);
  return { scrapes: () => scrapes, problem: () => problem, close: () => clearInterval(timer) };
}

async function run(endpoint: string, watched: boolean, n: number): Promise<{ rate: number; snapshots: number; scrapes: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-dash-'));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  const stream = `dash-${n}-${watched ? 'on' : 'off'}`;
  const children: Child[] = [];
  try {
    await ensureStream(kinesis, stream, 4, AbortSignal.timeout(10_000));
    const { gateway, port } = await startBenchGateway(dir, endpoint, stream, { status: watched ? '{ enabled: true, port: 0 }' : '{ enabled: false }' });
    children.push(gateway);
    let dashboard: ReturnType<typeof watchDashboard> | null = null;
    let scraper: ReturnType<typeof scrapeMetrics> | null = null;
    if (watched) {
      const statusPort = await gateway.waitFor((l) => jsonField(l, (o) => (String(o.msg).startsWith('status server ready') ? (o.port as number) : undefined)));
      dashboard = watchDashboard(statusPort);
      scraper = scrapeMetrics(statusPort);
    }
    const watch = new StreamWatch(kinesis, stream);
    await watch.init();
    const load = spawnNode(['dist/device-sim/main.js', '--url', `mqtt://127.0.0.1:${port}`, '--devices', String(DEVICES), '--qos', '1', '--payload-bytes', '200', '--json', '--count', String(READINGS), '--total-rate', '200000']);
    children.push(load);
    const visibleAt = await watch.until(READINGS, 300_000, 50);
    const summary = await load.waitFor((l) => jsonField(l, (o) => (typeof o.acked === 'number' ? o : undefined)), 60_000);
    requireMeasured(visibleAt !== null, `${stream}: only ${watch.count} of ${READINGS} readings became visible`);
    const rate = READINGS / ((visibleAt - Date.parse(summary.startedAt as string)) / 1000);
    const result = { rate, snapshots: dashboard?.snapshots() ?? 0, scrapes: scraper?.scrapes() ?? 0 };
    dashboard?.close();
    scraper?.close();
    // A watched run in which nothing was watched would compare two unwatched runs.
    if (dashboard) requireMeasured(result.snapshots > 0, `${stream}: the dashboard client received no snapshot from /events (${dashboard.problem()})`);
    if (scraper) requireMeasured(result.scrapes > 0, `${stream}: no /metrics scrape completed during the run (${scraper.problem()}); raise --readings so a run lasts more than a second`);
    process.stderr.write(`${stream}: ${JSON.stringify(result)}\n`);
    return result;
  } finally {
    for (const c of children.reverse()) await c.stop();
    kinesis.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
try {
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const pairs: Array<{ off: number; on: number; snapshots: number; scrapes: number }> = [];
  for (let i = 1; i <= PAIRS; i++) {
    // The order alternates between pairs: the emulator keeps every stream in memory and slows a little
    // from run to run, which would otherwise always count against the second run of a pair.
    let off: Awaited<ReturnType<typeof run>>;
    let on: Awaited<ReturnType<typeof run>>;
    if (i % 2 === 1) {
      off = await run(endpoint, false, i);
      on = await run(endpoint, true, i);
    } else {
      on = await run(endpoint, true, i);
      off = await run(endpoint, false, i);
    }
    pairs.push({ off: off.rate, on: on.rate, snapshots: on.snapshots, scrapes: on.scrapes });
  }
  const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const ratios = pairs.map((p) => p.on / p.off);
  const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
  console.log(
    [
      `${PAIRS} pairs of runs, ${fmt(READINGS)} QoS 1 readings of ~200 B from ${DEVICES} clients each, 4-shard emulator stream, ` +
        `${os.cpus().length} cores, Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}.`,
      '',
      '| run | readings/s (median) | ratio |',
      '|---|---|---|',
      `| status server off | ${fmt(median(pairs.map((p) => p.off)))} | 1.00 |`,
      `| status server on, a dashboard on /events, /metrics scraped every second | ${fmt(median(pairs.map((p) => p.on)))} | **${fmt(median(ratios), 3)}** (pairs: ${ratios.map((r) => fmt(r, 3)).join(', ')}) |`,
      '',
      `Dashboard snapshots received per run: ${pairs.map((p) => p.snapshots).join(', ')}; scrapes: ${pairs.map((p) => p.scrapes).join(', ')}.`,
    ].join('\n'),
  );
} finally {
  await emulator.stop();
}
