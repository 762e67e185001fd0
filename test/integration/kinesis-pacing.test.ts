import { DescribeStreamSummaryCommand, ListShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { ShardMap } from '../../src/sinks/kinesis/shard-map.js';
import { SdkKinesisPort } from '../../src/sinks/kinesis/sdk-port.js';
import { pacedBurst } from '../../src/sinks/kinesis/shard-pacer.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { gatewayBehindProxy } from '../helpers/proxied-kinesis.js';
import { SkewedClockProxy } from '../helpers/skewed-clock-proxy.js';
import { emulatorClient, readingKey, waitForReadings, type StreamRecord } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const t = await makeTempDir('tidegate-pacing-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Publishes `perDevice` QoS 1 readings of about `bytes` bytes from each device; returns the PUBACKed keys. */
async function publish(mqttUrl: string, devices: number, perDevice: number, bytes = 200): Promise<Set<string>> {
  const acked = new Set<string>();
  await Promise.all(
    Array.from({ length: devices }, async (_, d) => {
      const deviceId = `pace-${d}`;
      const client = await mqtt.connectAsync(mqttUrl, { clientId: deviceId, reconnectPeriod: 0 });
      try {
        for (let s = 1; s <= perDevice; s += 25) {
          await Promise.all(
            Array.from({ length: Math.min(25, perDevice - s + 1) }, async (_, k) => {
              const seq = s + k;
              const payload = JSON.stringify({ seq, temperature: 21.5, pad: 'x'.repeat(Math.max(0, bytes - 130)) });
              await client.publishAsync(`devices/${deviceId}/telemetry`, payload, { qos: 1 });
              acked.add(`${deviceId}#${seq}`);
            }),
          );
        }
      } finally {
        await client.endAsync();
      }
    }),
  );
  return acked;
}

/** Most records any one shard took in any window of `windowMs` (by arrival time). */
function peakPerWindow(records: StreamRecord[], windowMs: number): number {
  const byShard = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const r of records) {
    // One arrival per Kinesis record (aggregated readings share one).
    if (seen.has(r.sequenceNumber)) continue;
    seen.add(r.sequenceNumber);
    (byShard.get(r.shardId) ?? byShard.set(r.shardId, []).get(r.shardId)!).push(r.arrivedAt);
  }
  let peak = 0;
  for (const times of byShard.values()) {
    times.sort((a, b) => a - b);
    let lo = 0;
    for (let hi = 0; hi < times.length; hi++) {
      while (times[hi]! - times[lo]! >= windowMs) lo += 1;
      peak = Math.max(peak, hi - lo + 1);
    }
  }
  return peak;
}

describe('shard map', () => {
  it('predicts the shard the emulator puts each partition key in', async () => {
    const emulator = await startLocalEmulator('127.0.0.1', 0);
    cleanups.push(() => emulator.close());
    const client = emulatorClient(emulator.endpoint);
    cleanups.push(async () => client.destroy());
    await ensureStream(client, 'map-stream', 4, AbortSignal.timeout(10_000));
    const map = new ShardMap(await new SdkKinesisPort(client).listShards('map-stream', AbortSignal.timeout(5_000)));
    expect(map.size).toBe(4);
    const keys = Array.from({ length: 64 }, (_, i) => `device-${i}`);
    const out = await client.send(new PutRecordsCommand({ StreamName: 'map-stream', Records: keys.map((k) => ({ PartitionKey: k, Data: Buffer.from(k) })) }));
    expect(out.Records!.map((r) => r.ShardId)).toEqual(keys.map((k) => map.shardOf(k)));
  });
});

describe('per-shard pacing and KPL aggregation, end to end', () => {
  it('drains a backlog within each shard\'s records/s limit', { timeout: 60_000 }, async () => {
    const rig = await gatewayBehindProxy(await tempDir(), 'paced', {
      shards: 2,
      startCut: true,
      // One call in flight: each call is planned after the one before landed, which is what bounds a second below.
      config: { kinesis: { concurrency: 1, pacing: { mode: 'on', share: 1, recordsPerSecondPerShard: 100 }, batch: { maxAgeMs: 0 } } },
    });
    cleanups.push(() => rig.close());
    const acked = await publish(rig.mqttUrl, 12, 50);
    expect(acked.size).toBe(600);
    const started = Date.now();
    await rig.proxy.restore();
    const { records, lost } = await waitForReadings(rig.kinesis, 'paced', acked, 45_000);
    const tookMs = Date.now() - started;
    expect(lost).toEqual([]);
    // What lands in a second was taken in it (at most the limit, in any sliding second) but for the one call in
    // flight at its start, which took at most the burst. Arrival times are stamped by the emulator after each
    // call's transit, so up to 150 ms of transit variance (a loaded 2-core machine) can shift 0.15 s of the rate
    // into one window; the pacer's exact bound is proved on virtual time in test/unit/kinesis-pacing.test.ts.
    const transitAllowance = Math.ceil(100 * 0.15);
    expect(peakPerWindow(records, 1000)).toBeLessThanOrEqual(100 + pacedBurst(100, 1) + transitAllowance);
    // 600 readings over 2 shards at 100/s each, after a burst of 50 (half the limit): about 2.5 s (it cannot be faster than 2).
    expect(tookMs).toBeGreaterThanOrEqual(1_800);
    expect(rig.gateway.metrics.get('kinesis_shard_records_total')).toBeGreaterThanOrEqual(600);
  });

  it('packs a backlog of 200-byte readings at least 50 to a Kinesis record, readable by aws-kinesis-agg', { timeout: 60_000 }, async () => {
    const rig = await gatewayBehindProxy(await tempDir(), 'aggregated', {
      shards: 2,
      startCut: true,
      config: { kinesis: { aggregation: { mode: 'kpl' }, pacing: { mode: 'on' } } },
    });
    cleanups.push(() => rig.close());
    const acked = await publish(rig.mqttUrl, 8, 250, 200);
    await rig.proxy.restore();
    const { records, lost } = await waitForReadings(rig.kinesis, 'aggregated', acked, 45_000);
    expect(lost).toEqual([]);
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const kinesisRecords = new Set(records.map((r) => r.sequenceNumber)).size;
    expect(records.length / kinesisRecords).toBeGreaterThanOrEqual(50);
    // Each device's readings in order within the stream.
    for (let d = 0; d < 8; d++) {
      const seqs = records.filter((r) => r.deviceId === `pace-${d}`).map((r) => r.seq!);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    const ledger = rig.gateway.bufferStats();
    expect(ledger.delivered).toBe(2000);
  });

  it('aggregates live readings from the bundled emulator too, losing none', { timeout: 60_000 }, async () => {
    const { gateway, mqttUrl } = await startTestGateway(await tempDir(), { kinesis: { aggregation: { mode: 'kpl' }, streamName: 'live-agg' } });
    cleanups.push(() => gateway.stop(AbortSignal.timeout(10_000)));
    const acked = await publish(mqttUrl, 6, 100);
    const client = emulatorClient(gateway.kinesisEndpoint!);
    cleanups.push(async () => client.destroy());
    const { records, lost } = await waitForReadings(client, 'live-agg', acked, 30_000);
    expect(lost).toEqual([]);
    expect(new Set(records.map(readingKey)).size).toBe(600);
  });
});

describe('resharding', () => {
  it('reads the shard map again when records land in shards it does not know, and loses nothing', { timeout: 60_000 }, async () => {
    const rig = await gatewayBehindProxy(await tempDir(), 'resharded', { shards: 2, config: { kinesis: { pacing: { mode: 'on' } } } });
    cleanups.push(() => rig.close());
    await expect.poll(() => [...rig.gateway.kinesisShards], { timeout: 10_000 }).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    const before = await publish(rig.mqttUrl, 8, 10);

    // Split the first shard at the middle of its range: it closes, two children take its keys.
    const shards = (await rig.kinesis.send(new ListShardsCommand({ StreamName: 'resharded' }))).Shards!;
    const first = shards.find((s) => s.ShardId === 'shardId-000000000000')!;
    const middle = (BigInt(first.HashKeyRange!.StartingHashKey!) + BigInt(first.HashKeyRange!.EndingHashKey!)) / 2n;
    await rig.kinesis.send(new SplitShardCommand({ StreamName: 'resharded', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: middle.toString() }));
    await expect
      .poll(async () => (await rig.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'resharded' }))).StreamDescriptionSummary!.StreamStatus, { timeout: 10_000 })
      .toBe('ACTIVE');

    // Keep publishing until the map has been read again (bounded): the first records into the children show the reshard.
    for (let round = 0; round < 40 && rig.gateway.kinesisShards.includes('shardId-000000000000'); round++) {
      await publish(rig.mqttUrl, 8, 5);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect([...rig.gateway.kinesisShards].sort()).toEqual(['shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']);
    await expect.poll(() => rig.gateway.bufferStats().buffered, { timeout: 20_000 }).toBe(0);
    const { lost } = await waitForReadings(rig.kinesis, 'resharded', before, 20_000);
    expect(lost).toEqual([]);
    expect(rig.gateway.bufferStats().delivered).toBe(rig.gateway.bufferStats().received);
  });
});

describe('clock skew', () => {
  it('learns the offset from the service\'s replies, signs with the corrected time, and reports it', { timeout: 60_000 }, async () => {
    const emulator = await startLocalEmulator('127.0.0.1', 0);
    cleanups.push(() => emulator.close());
    const client = emulatorClient(emulator.endpoint);
    cleanups.push(async () => client.destroy());
    await ensureStream(client, 'skewed', 1, AbortSignal.timeout(10_000));
    // The service's clock is an hour ahead of this machine's (a Pi that booted without NTP is behind).
    const proxy = new SkewedClockProxy(emulator.port, 3_600_000);
    await proxy.start();
    cleanups.push(() => proxy.close());
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    cleanups.push(async () => void vi.unstubAllEnvs());
    const { gateway, mqttUrl } = await startTestGateway(await tempDir(), {
      kinesis: { endpoint: proxy.url, streamName: 'skewed', retry: { baseDelayMs: 20, maxDelayMs: 200 }, pacing: { mode: 'off' } },
    });
    cleanups.push(() => gateway.stop(AbortSignal.timeout(10_000)));
    const acked = await publish(mqttUrl, 2, 20);
    const { lost } = await waitForReadings(client, 'skewed', acked, 30_000);
    expect(lost).toEqual([]);
    expect(proxy.refused).toBeGreaterThanOrEqual(1);
    expect(proxy.forwarded).toBeGreaterThanOrEqual(1);
    const offset = gateway.metrics.snapshot()['kinesis_clock_offset_seconds']!;
    expect(Math.abs(offset - 3600)).toBeLessThan(10);
  });
});
