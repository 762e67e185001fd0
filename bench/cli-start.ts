/**
 * How long the operator commands take from `node` to exit (issue "Pi-class efficiency": CLI commands start
 * in ≤ 300 ms): `--version`, `status` of a running gateway and of a stopped one's data dir, `dead-letters
 * list`, `passwd list` and `tail --no-follow` of an empty stream, each run --runs times in turn, with bare
 * `node -e 0` measured in the same rounds as the baseline (the machine's cost of starting node at all).
 *
 *   npm run bench:cli [-- --runs 9]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { jsonField, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { requireMeasured } from './not-measured.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '9' } } });
const RUNS = Number(args.runs);
if (!(Number.isInteger(RUNS) && RUNS >= 3 && RUNS <= 50)) throw new Error(`--runs ${args.runs}: give a whole number from 3 to 50`);
/** No command of these should take long; one that hangs is a failure, not a measurement. */
const COMMAND_TIMEOUT_MS = 20_000;

interface Timed {
  name: string;
  args: string[];
  input?: string;
  /** Exit statuses that mean the command did its job (status exits 1 when the ledger does not balance). */
  okStatus?: number[];
}

/** Wall milliseconds of one run of node with `argv`, from spawn to exit. */
function timeOnce(t: Timed): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, t.args, {
    cwd: repoRoot,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' },
    input: t.input ?? '',
    timeout: COMMAND_TIMEOUT_MS,
    encoding: 'utf8',
  });
  const ms = performance.now() - started;
  const ok = (t.okStatus ?? [0]).includes(r.status ?? -1);
  requireMeasured(ok, `${t.name}: exit status ${r.status} (signal ${r.signal}):\n${r.stderr}`);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs each command once per round, in turn, so a slow moment of the machine falls on all of them alike. */
function measure(commands: Timed[]): Map<string, number[]> {
  const times = new Map<string, number[]>(commands.map((c) => [c.name, []]));
  for (const c of commands) timeOnce(c); // warm the page cache: a Pi's second start is the one that counts
  for (let round = 0; round < RUNS; round++) for (const c of commands) times.get(c.name)!.push(timeOnce(c));
  return times;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-cli-'));
const children: Child[] = [];
try {
  const emulator = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  children.push(emulator);
  const endpoint = await emulator.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  await ensureStream(kinesis, 'cli', 1, AbortSignal.timeout(10_000));
  kinesis.destroy();

  const usersFile = path.join(dir, 'users');
  const usersConfig = path.join(dir, 'users.yaml');
  await writeFile(usersConfig, `dataDir: ${JSON.stringify(path.join(dir, 'unused'))}\nmqtt: { auth: { usersFile: ${JSON.stringify(usersFile)} } }\n`);
  timeOnce({ name: 'passwd add', args: ['dist/src/main.js', 'passwd', 'add', 'sensor-1', '--file', usersFile, '--password-stdin'], input: 'correct horse battery\n' });

  const { gateway } = await startBenchGateway(dir, endpoint, 'cli');
  children.push(gateway);
  const config = path.join(dir, 'cli.yaml');
  const cli = (...a: string[]): string[] => ['dist/src/main.js', ...a];
  const baseline: Timed = { name: 'node -e 0 (baseline)', args: ['-e', '0'] };
  const running = measure([
    baseline,
    { name: 'tidegate --version', args: cli('--version') },
    { name: 'tidegate status (running gateway)', args: cli('status', '-c', config) },
    { name: 'tidegate dead-letters list (running gateway)', args: cli('dead-letters', 'list', '-c', config) },
    { name: 'tidegate passwd list (users file from the config)', args: cli('passwd', 'list', '-c', usersConfig) },
    { name: 'tidegate tail --no-follow (empty stream, to exit)', args: cli('tail', '-c', config, '--no-follow') },
  ]);
  await gateway.stop();
  const stopped = measure([baseline, { name: 'tidegate status (stopped gateway: opens its LevelDB)', args: cli('status', '-c', config), okStatus: [0, 1] }]);

  const base = median(running.get(baseline.name)!);
  const rows = [...running, ...[...stopped].filter(([name]) => name !== baseline.name)].map(([name, xs]) => {
    const m = median(xs);
    return `| ${name} | ${m.toFixed(0)} ms | ${Math.max(...xs).toFixed(0)} ms | ${name === baseline.name ? '' : `${(m - base).toFixed(0)} ms`} |`;
  });
  process.stdout.write(
    [`CLI start, ${RUNS} runs each (median of wall time from spawn to exit), node ${process.version}`, '', '| command | median | slowest | above bare node |', '|---|---|---|---|', ...rows, ''].join('\n'),
  );
} finally {
  for (const c of children.reverse()) await c.stop();
  await rm(dir, { recursive: true, force: true });
}
