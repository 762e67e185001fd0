import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line for which `match` returns a value. */
  waitFor<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
  stderr: string[];
}

/** Spawns a node script and exposes its stdout lines; every bench process runs on loopback only. */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const seen: string[] = [];
  const listeners = new Set<(line: string) => void>();
  lines.on('line', (line) => {
    seen.push(line);
    for (const l of listeners) l(line);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    stderr,
    waitFor<T>(match: (line: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        for (const line of seen) {
          const v = match(line);
          if (v !== undefined) return resolve(v);
        }
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for output of ${args.join(' ')}\n${stderr.join('')}`));
        }, timeoutMs);
        const check = (line: string): void => {
          const v = match(line);
          if (v === undefined) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(v);
        };
        listeners.add(check);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${args.join(' ')} exited early:\n${stderr.join('')}`));
        });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function jsonField<T>(line: string, pick: (o: Record<string, any>) => T | undefined): T | undefined {
  try {
    return pick(JSON.parse(line) as Record<string, any>);
  } catch {
    return undefined;
  }
}

/** A memory field of /proc/<pid>/status (VmHWM, VmRSS), in MiB. */
function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Peak resident set (VmHWM) of a process, in MiB. */
export const peakRssMiB = (pid: number): number => statusMiB(pid, 'VmHWM');

/** Resident set now (VmRSS) of a process, in MiB. */
export const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

/** User + system CPU time a process has used, in ms. */
export function cpuMs(pid: number): number {
  const t = statTimesMs(`/proc/${pid}/stat`);
  return t.userMs + t.systemMs;
}

export interface ThreadCpu {
  /** The main thread: JavaScript, the event loop and the socket calls it makes. */
  main: { userMs: number; systemMs: number };
  /**
   * Every other thread, those that ended included (the process's total less the main thread's): libuv's
   * pool (LevelDB's writes and fsyncs), LevelDB's compaction, V8's marking, sweeping and compiling.
   */
  others: { userMs: number; systemMs: number };
}

/** User + system CPU time of a split, in ms: the main thread's, or with `others` the process's. */
export function cpuTotalMs(t: ThreadCpu, part: 'main' | 'all' = 'all'): number {
  const main = t.main.userMs + t.main.systemMs;
  return part === 'main' ? main : main + t.others.userMs + t.others.systemMs;
}

/** A process's CPU time split into its main thread's and the rest's (/proc/<pid>/task/<pid>/stat), in ms. */
export function threadCpuMs(pid: number): ThreadCpu {
  const all = statTimesMs(`/proc/${pid}/stat`);
  const main = statTimesMs(`/proc/${pid}/task/${pid}/stat`);
  return { main, others: { userMs: all.userMs - main.userMs, systemMs: all.systemMs - main.systemMs } };
}

function statTimesMs(file: string): { userMs: number; systemMs: number } {
  // The command name (field 2) may hold spaces; the fields after it are space-separated.
  const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime, in clock ticks: USER_HZ is 100 on Linux.
  return { userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 };
}

/** BENCH_GATEWAY_NODE_ARGS: Node options for the benchmarked gateway (space-separated), V8 heap sizes say. */
export function benchGatewayNodeArgs(): string[] {
  return (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

export interface BenchGateway {
  gateway: Child;
  /** The MQTT port it bound (port 0 in its config). */
  port: number;
  /** From spawn to "MQTT listener ready". */
  readyMs: number;
}

/**
 * Runs the built gateway (`dist/src/main.js`) as a child process on ephemeral ports, forwarding to a
 * Kinesis-compatible endpoint, with its buffer in `<dir>/data`; resolves once its MQTT listener is ready.
 */
export interface BenchGatewayOptions {
  timeoutMs?: number;
  /** Extra `kinesis:` keys, as YAML flow text (for example `pacing: { mode: on }`). */
  kinesis?: string;
  /** The `status:` section, as YAML flow text. */
  status?: string;
  /** More top-level config (block YAML), appended as is: `rules:` for the analytics benchmark. */
  extraYaml?: string;
  /** Node options for the gateway (V8 heap sizes, for example), before the script. */
  nodeArgs?: string[];
}

/**
 * The emulator has no shard limits, so per-shard pacing (on by default for any endpoint but `local`) is off
 * unless a benchmark asks for it: these runs measure tidegate against the emulator's own ceiling.
 */
export async function startBenchGateway(dir: string, endpoint: string, stream: string, opts: BenchGatewayOptions = {}): Promise<BenchGateway> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const kinesisExtra = opts.kinesis ?? 'pacing: { mode: off }';
  const config = path.join(dir, `${stream}.yaml`);
  writeFileSync(
    config,
    [
      'gatewayId: bench',
      `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
      'log: { level: info }',
      'mqtt: { listeners: [{ host: 127.0.0.1, port: 0 }] }',
      `status: ${opts.status ?? '{ port: 0 }'}`,
      `kinesis: { endpoint: ${JSON.stringify(endpoint)}, region: us-east-1, streamName: ${stream}, ${kinesisExtra} }`,
      opts.extraYaml ?? '',
    ].join('\n'),
  );
  const startedAt = Date.now();
  // TIDEGATE_BENCH_PROFILE_DIR: a CPU profile of each gateway, written there when it exits (node does not
  // take --cpu-prof from NODE_OPTIONS), to find where a benchmark's CPU goes.
  const profile = process.env.TIDEGATE_BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TIDEGATE_BENCH_PROFILE_DIR}`] : [];
  // TIDEGATE_BENCH_ALLOC_PROFILE_DIR: what the gateway allocates between two SIGUSR2 (bench/alloc-sampling.cjs).
  if (process.env.TIDEGATE_BENCH_ALLOC_PROFILE_DIR) profile.push('--require', path.join(repoRoot, 'bench', 'alloc-sampling.cjs'));
  const gateway = spawnNode([...(opts.nodeArgs ?? []), ...profile, 'dist/src/main.js', 'run', '--config', config], { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' });
  // TIDEGATE_BENCH_GATEWAY_OUTPUT=<file>: what a gateway prints besides its JSON log, appended there; with
  // --trace-gc in BENCH_GATEWAY_NODE_ARGS, its heap before and after every collection through the run.
  const output = process.env.TIDEGATE_BENCH_GATEWAY_OUTPUT;
  if (output) createInterface({ input: gateway.proc.stdout! }).on('line', (line) => line.startsWith('{') || appendFileSync(output, `${line}\n`));
  const port = await gateway.waitFor((l) => jsonField(l, (o) => (o.msg === 'MQTT listener ready' ? (o.port as number) : undefined)), timeoutMs);
  return { gateway, port, readyMs: Date.now() - startedAt };
}
