/**
 * Kinesis delivery benchmark (`npm run bench:kinesis`): per-shard pacing and KPL aggregation, on a 1-shard
 * and a 4-shard stream, all in one run:
 *  1. the raw ceiling: 500-entry PutRecords calls straight into the emulator (no proxy, not aggregated,
 *     one call in flight), records of the size tidegate's readings have on the wire;
 *  2. tidegate, no aggregation, pacing on, draining a backlog of N readings through the fault proxy, which
 *     enforces AWS's per-shard limits (1,000 records/s, 1 MiB/s) in front of the emulator;
 *  3. the same with `aggregation.mode: kpl`;
 *  4. the same not aggregated with pacing off: the throttling storm pacing avoids.
 * The emulator runs in its own process, the gateway in another (the built `dist/src/main.js`, so its CPU is
 * its alone, read from /proc), the proxy in this one. The proxy refuses PutRecords (HTTP 503) until the gateway
 * is up with its backlog and has read the shard map; the drain is timed from the proxy being opened to the
 * gateway's buffer being empty (and, apart from that, until the proxy had accepted every reading); the stream
 * is then read back, de-aggregated, and every reading id checked. The gateway's CPU is given for the whole
 * drain and for its second half (from the proxy having accepted half the backlog), which leaves out the
 * first seconds of a freshly started gateway, when V8's optimizing compiler is busiest.
 * Usage: npx tsx bench/kinesis-shards.ts [--backlog 20000] [--rounds 1] [--no-unpaced] [--put-records direct,sdk]
 *        [--latency-ms 0]
 * (`--put-records`: the gateway's `kinesis.putRecords` settings to run each variant with; default `direct`.
 * `--latency-ms`: added by the proxy to every call before it goes on, as a distant region or a slow uplink
 * would; the round trip of a call on loopback is otherwise a few milliseconds.)
 * (`npm run bench:kinesis` builds dist first; running this file directly needs a current `npm run build`.)
 * BENCH_GATEWAY_NODE_ARGS: node options for the gateway (the systemd unit's heap settings, for example).
 * BENCH_KINESIS: more `kinesis:` keys for every variant, as YAML flow text (`concurrency: 1`, for example).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { controlRequest } from '../src/control/client.js';
import type { StatusReport } from '../src/control/handler.js';
import { controlSocketPath } from '../src/control/protocol.js';
import { readAllShards } from '../src/cli/verify/read-all-shards.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/kinesis-local/emulator.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { createKinesisClient } from '../src/sinks/kinesis/sdk-port.js';
import { KinesisFaultProxy } from '../test/helpers/kinesis-fault-proxy.js';
import { AWS_SHARD_LIMITS } from '../test/helpers/kinesis-shard-limits.js';
import { fillBacklog } from './backlog.js';
import { benchGatewayNodeArgs, cpuMs, jsonField, repoRoot, spawnNode, startBenchGateway, type Child } from './processes.js';
import { putRecordsCeiling } from './stream-watch.js';

const { values: args } = parseArgs({ options: { backlog: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '1' }, 'no-unpaced': { type: 'boolean', default: false }, 'put-records': { type: 'string', default: 'direct' }, 'latency-ms': { type: 'string', default: '0' } } });
const PUT_RECORDS = String(args['put-records']).split(',').map((c) => c.trim());
if (PUT_RECORDS.some((c) => c !== 'direct' && c !== 'sdk')) throw new Error(`--put-records takes direct, sdk or both (direct,sdk), not ${args['put-records']}`);
const BACKLOG = Number(args.backlog);
const LATENCY_MS = Number(args['latency-ms']);
if (!(LATENCY_MS >= 0 && LATENCY_MS <= 2_000)) throw new Error(`--latency-ms takes 0 to 2000 (milliseconds added to every call by the proxy), not ${args['latency-ms']}`);
const ROUNDS = Number(args.rounds);
const SHARD_COUNTS = [1, 4];
// Bounds one drain; at 900 records/s a 20,000-reading backlog on one shard takes ~25 s.
const DRAIN_TIMEOUT_MS = 180_000;

type Variant = 'plain' | 'kpl' | 'unpaced';
const BASE_VARIANTS: { variant: Variant; label: string; kinesis: string }[] = [
  { variant: 'plain', label: 'tidegate, not aggregated, paced', kinesis: 'pacing: { mode: on }' },
  { variant: 'kpl', label: 'tidegate, `aggregation.mode: kpl`, paced', kinesis: 'pacing: { mode: on }, aggregation: { mode: kpl }' },
  ...(args['no-unpaced'] ? [] : [{ variant: 'unpaced' as Variant, label: 'tidegate, not aggregated, pacing off', kinesis: 'pacing: { mode: off }' }]),
];
const VARIANTS = BASE_VARIANTS.flatMap((v) =>
  PUT_RECORDS.map((client) => ({
    ...v,
    client,
    label: PUT_RECORDS.length > 1 ? `${v.label}, putRecords: ${client}` : v.label,
    kinesis: `${v.kinesis}, putRecords: ${client}${process.env.BENCH_KINESIS ? `, ${process.env.BENCH_KINESIS}` : ''}`,
  })),
);

interface DrainResult {
  shards: number;
  variant: Variant;
  label: string;
  readings: number;
  drainMs: number;
  /** From the proxy opening until the proxy had accepted as many readings as the backlog holds. */
  acceptedMs: number;
  readingsPerSecond: number;
  kinesisRecords: number;
  kinesisBytes: number;
  /** Busiest second of any one shard, as the proxy accepted it. */
  peak: { records: number; bytes: number };
  withinLimits: boolean;
  throttled: number;
  putRecordsCalls: number;
  gatewayCpuMs: number;
  /**
   * The gateway's CPU from the proxy having accepted half the backlog to the end, and the readings that
   * half held: a gateway already draining for a while (a fresh one spends a good part of its first seconds
   * in V8's optimizing compiler).
   */
  secondHalf: { cpuMs: number; readings: number };
  inStream: number;
  lost: number;
  duplicates: number;
  unreadable: number;
}

/** The gateway's status; null once nothing listens on its control socket (it exited). */
async function status(dataDir: string): Promise<StatusReport | null> {
  return (await controlRequest(controlSocketPath(dataDir), { op: 'status' })) as StatusReport | null;
}

/** Its stderr and first error-level log line, for the message when a gateway died mid-run. */
async function gatewayErrors(gateway: Child): Promise<string> {
  const logged = await gateway.waitFor((l) => jsonField(l, (o) => ((o.level as number) >= 50 ? l : undefined)), 1).catch(() => '(no error logged)');
  return `${gateway.stderr.join('').slice(-4_000)}\n${logged}`;
}

async function drainRun(emulatorPort: number, endpoint: string, shards: number, v: (typeof VARIANTS)[number], round: number): Promise<DrainResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-kinesis-'));
  const dataDir = path.join(dir, 'data');
  const stream = `bench-${shards}-${v.variant}-${v.client}-${round}`;
  const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 60_000 });
  // Every PutRecords is refused (HTTP 503, nothing forwarded) until the gateway is up with its backlog and
  // knows the shard map: ListShards passes, so the drain is measured with per-shard pacing in place, not
  // with a map still unknown (paced as one shard until ListShards is tried again).
  const proxy = new KinesisFaultProxy(emulatorPort, { faults: { callFailures: { kind: 'http503', calls: Infinity }, latencyMs: LATENCY_MS } });
  let gateway: Child | undefined;
  try {
    await ensureStream(kinesis, stream, shards, AbortSignal.timeout(10_000));
    await fillBacklog(dataDir, BACKLOG);
    await proxy.start();
    gateway = (await startBenchGateway(dir, proxy.url, stream, { kinesis: `requestTimeoutMs: 2000, ${v.kinesis}`, nodeArgs: benchGatewayNodeArgs() })).gateway;
    if (v.variant !== 'unpaced') await gateway.waitFor((l) => jsonField(l, (o) => (o.msg === 'shard map read; pacing each shard' ? true : undefined)), 30_000);
    const pid = gateway.proc.pid!;
    const cpuBefore = cpuMs(pid);
    proxy.setFaults({ callFailures: null });
    const started = Date.now();
    let buffered = BACKLOG;
    let acceptedMs: number | null = null;
    let half: { cpuMs: number; accepted: number } | null = null;
    // Bounded in time. The proxy is watched every 50 ms (in this process, free); the gateway's status once a
    // second until Kinesis has every reading, then every 50 ms for its buffer to empty: a status call costs
    // the gateway a control-socket connection and a health report, which a 20 Hz poll over the whole drain
    // added to the CPU measured (about 15 % of it on one shard, in the profile).
    let lastStatus = 0;
    while (buffered > 0 && Date.now() - started < DRAIN_TIMEOUT_MS) {
      await new Promise((r) => setTimeout(r, 50));
      // When Kinesis had taken every reading, as against when the gateway's buffer knew it.
      const accepted = proxy.stats().userRecordsAccepted;
      if (half === null && accepted >= BACKLOG / 2) half = { cpuMs: cpuMs(pid), accepted };
      if (acceptedMs === null && accepted >= BACKLOG) acceptedMs = Date.now() - started;
      if (acceptedMs === null && Date.now() - lastStatus < 1_000) continue;
      lastStatus = Date.now();
      const report = await status(dataDir);
      if (report === null) throw new Error(`${stream}: the gateway stopped answering during the drain (exit ${gateway.proc.exitCode ?? gateway.proc.signalCode}):\n${await gatewayErrors(gateway)}`);
      buffered = report.buffer.buffered;
    }
    acceptedMs ??= Date.now() - started;
    const drainMs = Date.now() - started;
    const cpuAfter = cpuMs(pid);
    const gatewayCpuMs = cpuAfter - cpuBefore;
    const secondHalf = half ? { cpuMs: cpuAfter - half.cpuMs, readings: BACKLOG - half.accepted } : { cpuMs: gatewayCpuMs, readings: BACKLOG };
    if (buffered > 0) throw new Error(`${stream}: ${buffered} readings still buffered after ${DRAIN_TIMEOUT_MS / 1000} s`);
    await gateway.stop();
    gateway = undefined;

    const read = await readAllShards(kinesis, stream, { callTimeoutMs: 30_000 }, AbortSignal.timeout(120_000));
    const ids = read.shards.flatMap((s) => s.entries.map((e) => (JSON.parse(e.data.toString('utf8')) as { id: string }).id));
    const unique = new Set(ids).size;
    const s = proxy.stats();
    const ledger = proxy.ledger();
    const peak = s.peakShardSecond;
    return {
      shards,
      variant: v.variant,
      label: v.label,
      readings: BACKLOG,
      drainMs,
      acceptedMs,
      readingsPerSecond: BACKLOG / (drainMs / 1000),
      kinesisRecords: s.entriesAccepted,
      kinesisBytes: ledger.reduce((sum, t) => sum + t.bytes, 0),
      peak,
      withinLimits: peak.records <= AWS_SHARD_LIMITS.recordsPerSecond && peak.bytes <= AWS_SHARD_LIMITS.bytesPerSecond,
      throttled: s.entriesFailed.rateLimited,
      putRecordsCalls: s.putRecordsCalls,
      gatewayCpuMs,
      secondHalf,
      inStream: ids.length,
      lost: BACKLOG - unique,
      duplicates: ids.length - unique,
      unreadable: read.unreadable.length,
    };
  } finally {
    await gateway?.stop();
    await proxy.close();
    kinesis.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const children: Child[] = [];
try {
  const emulatorProc = spawnNode(['--import', 'tsx', 'bench/emulator-process.ts']);
  children.push(emulatorProc);
  const endpoint = await emulatorProc.waitFor((l) => jsonField(l, (o) => o.endpoint as string | undefined));
  const emulatorPort = Number(new URL(endpoint).port);
  const rows: string[] = [];
  const results: DrainResult[] = [];
  let allPass = true;
  for (const shards of SHARD_COUNTS) {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const runs: DrainResult[] = [];
      for (const v of VARIANTS) {
        const r = await drainRun(emulatorPort, endpoint, shards, v, round);
        process.stdout.write(`${JSON.stringify(r)}\n`);
        runs.push(r);
      }
      // Raw ceiling with records as large as tidegate's non-aggregated ones were on the wire.
      const plain = runs.find((r) => r.variant === 'plain')!;
      const recordBytes = Math.round(plain.kinesisBytes / plain.kinesisRecords);
      const kinesis = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 60_000 });
      const rawStream = `bench-${shards}-raw-${round}`;
      await ensureStream(kinesis, rawStream, shards, AbortSignal.timeout(10_000));
      const raw = await putRecordsCeiling(kinesis, rawStream, BACKLOG, recordBytes, 50);
      kinesis.destroy();
      process.stdout.write(`${JSON.stringify({ shards, round, rawCeiling: Math.round(raw), recordBytes })}\n`);
      const limit = shards * AWS_SHARD_LIMITS.recordsPerSecond;
      rows.push(`| ${shards} | raw PutRecords into the emulator (${fmt(recordBytes)} B records, 500 per call) | ${fmt(raw)} records/s | 1.00 × | ${fmt(raw / limit, 2)} × | — | — | 1 | — | — | — |`);
      for (const r of runs) {
        const ok = r.withinLimits && r.lost === 0 && r.duplicates === 0 && r.unreadable === 0;
        if (r.variant !== 'unpaced') allPass &&= ok;
        const perShard = `${fmt(r.kinesisRecords / (r.drainMs / 1000) / shards)} rec/s, ${fmt(r.kinesisBytes / (r.drainMs / 1000) / shards / 1024)} KiB/s`;
        rows.push(
          `| ${shards} | ${r.label} | ${fmt(r.readingsPerSecond)} readings/s (${fmt(r.drainMs / 1000, 1)} s; all in Kinesis after ${fmt(r.acceptedMs / 1000, 1)} s) | ${fmt(r.readingsPerSecond / raw, 2)} × | ${fmt(r.readingsPerSecond / limit, 2)} × | ${perShard}; peak ${fmt(r.peak.records)} rec, ${fmt(r.peak.bytes / 1024)} KiB — ${r.withinLimits ? 'PASS' : 'FAIL'} | ${fmt(r.throttled)} | ${fmt(r.readings / r.kinesisRecords, 1)} | ${fmt((r.gatewayCpuMs * 1000) / r.readings)} ms (${fmt((r.secondHalf.cpuMs * 1000) / Math.max(1, r.secondHalf.readings))}) | ${fmt(r.putRecordsCalls)} | ${fmt(r.lost)} / ${fmt(r.duplicates)}${r.unreadable ? ` (${r.unreadable} unreadable)` : ''} |`,
        );
      }
      results.push(...runs);
    }
  }
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot }).toString().trim();
  } catch {
    // Not a git checkout: the table says so.
  }
  const table = [
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, commit ${commit}, ${new Date().toISOString().slice(0, 10)}; kinesalite through the fault proxy (1,000 records/s and 1 MiB/s per shard${LATENCY_MS > 0 ? `, ${fmt(LATENCY_MS)} ms added to every call` : ''}), backlog ${fmt(BACKLOG)} readings of 50 devices.`,
    '',
    '| shards | run | delivered | × emulator raw ceiling | × shards\' non-aggregated limit (1,000/s × shards) | Kinesis records and bytes per shard: mean over the drain; busiest shard-second — ≤ 1,000 rec and 1 MiB | entries throttled | readings per Kinesis record | gateway CPU per 1,000 readings (the whole drain; its second half) | PutRecords calls | lost / duplicated |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(path.join(repoRoot, 'bench/results/kinesis-shards.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n\n${allPass ? 'PASS' : 'FAIL'}: paced runs within the shard limits, nothing lost or duplicated\n`);
  if (!allPass) process.exitCode = 1;
} finally {
  for (const c of children.reverse()) await c.stop();
}
