/**
 * Shard-limit drain benchmark: a backlog of N readings drains through the fault proxy, which enforces AWS's
 * per-shard write limits (1,000 records/s and 1 MiB/s) in front of kinesalite. Reports the drain time and
 * rate against the shards' configured limit (what the proxy enforces: shards × 1,000 records/s; a setting,
 * not a measurement, so it is labelled as such), the measured busiest shard-second against that limit, the entries throttled (ProvisionedThroughputExceededException), the
 * PutRecords calls, and the busiest shard-second, checked against the limits; plus loss and duplicates.
 * Usage: npx tsx bench/shard-limits.ts [--backlog 20000] [--shards 2] [--devices 50]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Gateway } from '../src/gateway.js';
import { startLocalEmulator } from '../src/kinesis-local/emulator.js';
import { ensureStream } from '../src/kinesis-local/ensure-stream.js';
import { readAllShards } from '../src/cli/verify/read-all-shards.js';
import { testConfig } from '../test/helpers/gateway-harness.js';
import { KinesisFaultProxy } from '../test/helpers/kinesis-fault-proxy.js';
import { AWS_SHARD_LIMITS } from '../test/helpers/kinesis-shard-limits.js';
import { emulatorClient } from '../test/helpers/stream-reader.js';
import { requireMeasured } from './not-measured.js';

const { values: args } = parseArgs({ options: { backlog: { type: 'string', default: '20000' }, shards: { type: 'string', default: '2' }, devices: { type: 'string', default: '50' } } });
const BACKLOG = Number(args.backlog);
const SHARDS = Number(args.shards);
const DEVICES = Number(args.devices);
const STREAM = 'bench-shard-limits';

process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-bench-'));
const emulator = await startLocalEmulator('127.0.0.1', 0);
const kinesis = emulatorClient(emulator.endpoint);
await ensureStream(kinesis, STREAM, SHARDS, AbortSignal.timeout(10_000));
// Black-holed while the backlog builds up, as during an uplink outage.
const proxy = new KinesisFaultProxy(emulator.port, { faults: { blackHole: true } });
await proxy.start();
const gateway = await Gateway.start(
  testConfig(dataDir, { kinesis: { endpoint: proxy.url, streamName: STREAM, region: 'us-east-1', requestTimeoutMs: 2_000 } }),
  pino({ level: 'silent' }),
);
try {
  const { host, port } = gateway.mqttAddresses[0]!;
  const perDevice = Math.ceil(BACKLOG / DEVICES);
  await Promise.all(
    Array.from({ length: DEVICES }, async (_, d) => {
      const client = await mqtt.connectAsync(`mqtt://${host}:${port}`, { clientId: `bench-${d}`, reconnectPeriod: 0 });
      for (let base = 1; base <= perDevice; base += 50) {
        const n = Math.min(50, perDevice - base + 1);
        await Promise.all(Array.from({ length: n }, (_, i) => client.publishAsync(`devices/th-${d}/t`, JSON.stringify({ seq: base + i, temperature: 21.5, humidity: 40.1, pad: 'x'.repeat(100) }), { qos: 1 })));
      }
      await client.endAsync();
    }),
  );
  const total = perDevice * DEVICES;
  const callsBefore = proxy.stats().putRecordsCalls;
  proxy.setFaults({ blackHole: false });
  const started = Date.now();
  const deadline = started + 300_000;
  while (gateway.bufferStats().buffered > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const drainMs = Date.now() - started;
  // A drain that did not finish has no drain time: report nothing rather than the deadline as a rate.
  requireMeasured(gateway.bufferStats().buffered === 0, `the drain stalled: ${gateway.bufferStats().buffered} of ${total} readings still buffered after ${(drainMs / 1000).toFixed(0)} s`);
  const read = await readAllShards(kinesis, STREAM, { callTimeoutMs: 30_000 }, AbortSignal.timeout(120_000));
  requireMeasured(read.caughtUp, 'the stream was not read to its end, so loss and duplicates cannot be counted');
  const ids = read.shards.flatMap((s) => s.entries.map((e) => (JSON.parse(e.data.toString('utf8')) as { id: string }).id));
  const s = proxy.stats();
  const result = {
    backlog: total,
    shards: SHARDS,
    drainMs,
    drainRate: Math.round(total / (drainMs / 1000)),
    configuredLimit: SHARDS * AWS_SHARD_LIMITS.recordsPerSecond,
    drainVsConfiguredLimit: Number((total / (drainMs / 1000) / (SHARDS * AWS_SHARD_LIMITS.recordsPerSecond)).toFixed(3)),
    putRecordsCalls: s.putRecordsCalls - callsBefore,
    entriesThrottled: s.entriesFailed.rateLimited,
    callsWrittenAfterClientTimeout: s.clientTimeouts,
    peakShardSecond: s.peakShardSecond,
    withinLimits: s.peakShardSecond.records <= AWS_SHARD_LIMITS.recordsPerSecond && s.peakShardSecond.bytes <= AWS_SHARD_LIMITS.bytesPerSecond,
    inStream: ids.length,
    duplicates: ids.length - new Set(ids).size,
    lost: total - new Set(ids).size,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `${total} readings on ${SHARDS} shard(s) drained in ${(drainMs / 1000).toFixed(1)} s (${result.drainRate}/s = ${result.drainVsConfiguredLimit} × the configured limit of ${result.configuredLimit} records/s, shards × 1,000); ${result.putRecordsCalls} PutRecords calls, ${result.entriesThrottled} entries throttled; busiest shard-second measured ${s.peakShardSecond.records} records / ${s.peakShardSecond.bytes} B (limit ${AWS_SHARD_LIMITS.recordsPerSecond} / ${AWS_SHARD_LIMITS.bytesPerSecond} B: ${result.withinLimits ? 'within' : 'OVER'}); lost ${result.lost}, duplicates ${result.duplicates} (calls written after the client's timeout: ${s.clientTimeouts})\n`,
  );
} finally {
  await gateway.stop(AbortSignal.timeout(10_000));
  kinesis.destroy();
  await proxy.close();
  await emulator.close();
  await rm(dataDir, { recursive: true, force: true });
}
