/**
 * Reads a CPU profile a benchmark's gateway wrote (`TIDEGATE_BENCH_PROFILE_DIR=<dir>`, one `.cpuprofile` per
 * thread, the main thread's the largest): where its busy time went, by package or file and by function (self
 * time), with garbage collection on its own line. `--from-s` and `--to-s` keep only the samples in that span
 * of seconds after the profile started (the burst, say). The shares are of the busy time: idle is left out.
 * Busy time is wall time, not CPU: each sample stands for the interval since the last, also while the thread
 * waited in a system call. On the 2-core machine, `writev` of PutRecords bodies showed as 25-30 %
 * of a paced drain's busy time, while /proc counted no system time for the main thread over 15 s of it.
 * For CPU alone: the gateway with `NODE_OPTIONS=--perf-basic-prof`, and `perf record -F 999 -g -p <pid>`.
 * `npx tsx bench/cpu-profile.ts <file.cpuprofile> [--from-s S] [--to-s S] [--top K]`.
 */
import { readFileSync } from 'node:fs';
import { owner } from './alloc-profile.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSummary {
  busyMs: number;
  idleMs: number;
  byOwner: Array<[string, number]>;
  byFunction: Array<[string, number]>;
}

/** Frames that are not code: V8 names them in parentheses. */
const GC = '(garbage collector)';
const IDLE = '(idle)';

export function summarizeCpu(profile: CpuProfile, span: { fromMs?: number; toMs?: number } = {}): CpuSummary {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's delta is the time since the previous sample: it is the time that sample stands for.
    const deltaUs = profile.timeDeltas[i] ?? 0;
    atUs += deltaUs;
    if (span.fromMs !== undefined && atUs < span.fromMs * 1000) continue;
    if (span.toMs !== undefined && atUs > span.toMs * 1000) break;
    const frame = frames.get(profile.samples[i]!);
    if (!frame) continue;
    if (frame.functionName === IDLE) {
      idleUs += deltaUs;
      continue;
    }
    busyUs += deltaUs;
    const where = frame.functionName === GC ? '(garbage collection)' : owner(frame.url);
    byOwner.set(where, (byOwner.get(where) ?? 0) + deltaUs);
    const fn = `${frame.functionName || '(anonymous)'} ${owner(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + deltaUs);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, byOwner: sorted(byOwner), byFunction: sorted(byFunction) };
}

if (process.argv[1]?.endsWith('cpu-profile.ts')) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/cpu-profile.ts <file.cpuprofile> [--from-s S] [--to-s S] [--top K]\n');
    process.exit(2);
  }
  const flag = (name: string): number | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : undefined;
  };
  const from = flag('--from-s');
  const to = flag('--to-s');
  const top = flag('--top') ?? 25;
  const s = summarizeCpu(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, {
    ...(from !== undefined ? { fromMs: from * 1000 } : {}),
    ...(to !== undefined ? { toMs: to * 1000 } : {}),
  });
  const share = (us: number) => `${((100 * us) / (s.busyMs * 1000)).toFixed(1).padStart(5)} %`;
  process.stdout.write(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms\n\nby package or file (self):\n`);
  for (const [k, v] of s.byOwner.slice(0, top)) process.stdout.write(`${share(v)}  ${k}\n`);
  process.stdout.write('\nby function (self):\n');
  for (const [k, v] of s.byFunction.slice(0, top)) process.stdout.write(`${share(v)}  ${k}\n`);
}
