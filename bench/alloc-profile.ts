/**
 * Reads a sampling heap profile written by bench/alloc-sampling.cjs: the bytes allocated in it and where,
 * by function (self) and by package or file. `npx tsx bench/alloc-profile.ts <file> [--readings N] [--top K]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export interface AllocationSummary {
  totalBytes: number;
  byFunction: Array<[string, number]>;
  byOwner: Array<[string, number]>;
}

/** Where a frame's code lives: a package under node_modules, a file of ours, or Node/V8 itself. */
export function owner(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.startsWith('node:') ? 'node' : '(V8 or native)';
}

export function summarizeAllocations(file: string): AllocationSummary {
  const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head;
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let totalBytes = 0;
  const stack: ProfileNode[] = [head];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      const fn = `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
      byOwner.set(owner(url), (byOwner.get(owner(url)) ?? 0) + node.selfSize);
    }
    stack.push(...node.children);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalBytes, byFunction: sorted(byFunction), byOwner: sorted(byOwner) };
}

/** The directory a benchmark's gateway writes allocation profiles to, when asked for (else null). */
export const allocProfileDir = (): string | null => process.env.TIDEGATE_BENCH_ALLOC_PROFILE_DIR || null;

/** Starts (first call) or stops and writes (second call) the gateway's sampling; returns the file when stopped. */
export async function toggleAllocationSampling(pid: number, dir: string, nth: number, timeoutMs = 30_000): Promise<string> {
  process.kill(pid, 'SIGUSR2');
  const file = path.join(dir, `alloc-${pid}-${nth}.heapprofile`);
  // The profile is written by a signal handler in the gateway; poll for it, bounded in time.
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) if (existsSync(file)) return file;
  throw new Error(`no allocation profile ${file} within ${timeoutMs} ms`);
}

if (process.argv[1]?.endsWith('alloc-profile.ts')) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/alloc-profile.ts <file.heapprofile> [--readings N] [--top K]\n');
    process.exit(2);
  }
  const flag = (name: string, dflt: number) => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : dflt;
  };
  const readings = flag('--readings', 0);
  const top = flag('--top', 25);
  const s = summarizeAllocations(file);
  const per = (bytes: number) => (readings > 0 ? ` (${Math.round(bytes / readings)} B per reading)` : '');
  process.stdout.write(`allocated: ${(s.totalBytes / 1048576).toFixed(1)} MiB${per(s.totalBytes)}\n\nby package or file:\n`);
  for (const [k, v] of s.byOwner.slice(0, top)) process.stdout.write(`${(v / 1048576).toFixed(1).padStart(8)} MiB  ${k}\n`);
  process.stdout.write('\nby function (self):\n');
  for (const [k, v] of s.byFunction.slice(0, top)) process.stdout.write(`${(v / 1048576).toFixed(1).padStart(8)} MiB  ${k}\n`);
}
