import { ListShardsCommand, PutRecordsCommand, SplitShardCommand, DescribeStreamSummaryCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyStream } from '../../src/cli/verify/verify-stream.js';
import { verifyExitCode } from '../../src/cli/verify/exit-code.js';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { tailStream } from '../../src/cli/tail.js';
import { createKinesisClient } from '../../src/sinks/kinesis/sdk-port.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/kinesis-local/emulator.js';
import { tidegate } from '../helpers/cli.js';
import { KinesisFaultProxy } from '../helpers/kinesis-fault-proxy.js';
import { kplAggregate } from '../helpers/kpl-aggregate.js';
import { hashKeyOf, shardFor } from '../helpers/kinesis-shard-limits.js';
import { emulatorClient } from '../helpers/stream-reader.js';

const STREAM = 'verify-stream';
let nextId = 1;

interface Reading {
  deviceId: string;
  seq?: number;
  ts?: number;
  id?: string;
  /** The device's boot id (device-sim sends one; tidegate keeps it in values). */
  boot?: string;
}
const recordOf = (r: Reading, receivedAt: number): { id: string; json: string } => {
  const id = r.id ?? `gw-${nextId++}`;
  return { id, json: JSON.stringify({ id, deviceId: r.deviceId, topic: `devices/${r.deviceId}/t`, ts: r.ts, seq: r.seq, receivedAt, values: r.boot === undefined ? { v: 1 } : { v: 1, boot: r.boot } }) };
};
const plain = (r: Reading, receivedAt = Date.now()): PutRecordsRequestEntry => ({ PartitionKey: r.deviceId, Data: Buffer.from(recordOf(r, receivedAt).json) });
const aggregated = (readings: Reading[]): PutRecordsRequestEntry => {
  const built = kplAggregate(readings.map((r) => ({ partitionKey: r.deviceId, data: Buffer.from(recordOf(r, Date.now()).json) })));
  return { PartitionKey: built.partitionKey, Data: built.data };
};
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('tidegate tail --verify', () => {
  let emulator: LocalEmulator;
  let kinesis: KinesisClient;

  beforeEach(async () => {
    emulator = await startLocalEmulator('127.0.0.1', 0);
    kinesis = emulatorClient(emulator.endpoint);
    await ensureStream(kinesis, STREAM, 2, AbortSignal.timeout(10_000));
  });

  afterEach(async () => {
    kinesis.destroy();
    await emulator.close();
    vi.unstubAllEnvs();
  });

  const put = async (records: PutRecordsRequestEntry[]): Promise<void> => {
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: STREAM, Records: records }));
    expect(out.FailedRecordCount).toBe(0);
  };
  const verify = () => verifyStream(kinesis, STREAM, { callTimeoutMs: 5_000 }, AbortSignal.timeout(20_000));

  it('reports exactly the gaps, duplicates, reorderings and unreadable records written, plain and KPL-aggregated', async () => {
    const tsAgo = Date.now() - 500;
    // a: seq 1..20 without 5, 6 and 12; the device's ts 500 ms before the write.
    await put(range(1, 20).filter((s) => ![5, 6, 12].includes(s)).map((seq) => plain({ deviceId: 'dev-a', seq, ts: tsAgo })));
    // b: seq 1..10, seq 3 sent twice with one id (a retried call), seq 7 twice with two ids (the device resent it).
    await put([...range(1, 10).map((seq) => plain({ deviceId: 'dev-b', seq, ts: tsAgo, id: `b-${seq}` })), plain({ deviceId: 'dev-b', seq: 3, ts: tsAgo, id: 'b-3' }), plain({ deviceId: 'dev-b', seq: 7, ts: tsAgo, id: 'b-7-again' })]);
    // c: 1, 2, 4, 3, 5: one reordering.
    await put([1, 2, 4, 3, 5].map((seq) => plain({ deviceId: 'dev-c', seq, ts: tsAgo })));
    // d: 1..30 in two KPL aggregates, then 10..12 again in a third (same ids: a duplicated aggregate).
    const d = range(1, 30).map((seq) => ({ deviceId: 'dev-d', seq, ts: tsAgo, id: `d-${seq}` }));
    await put([aggregated(d.slice(0, 15)), aggregated(d.slice(15))]);
    await put([aggregated(d.slice(9, 12))]);
    // e: no device ts: latency counts from receivedAt, one second before the write.
    await put(range(1, 5).map((seq) => plain({ deviceId: 'dev-e', seq }, Date.now() - 1_000)));
    // An aggregate with a broken checksum, and a record that is not tidegate's.
    const broken = aggregated([{ deviceId: 'dev-x', seq: 1 }]);
    (broken.Data as Buffer)[(broken.Data as Buffer).length - 1]! ^= 0xff;
    await put([broken, { PartitionKey: 'other', Data: Buffer.from('not json') }]);

    const report = await verify();
    const dev = (id: string) => report.perDevice.find((p) => p.deviceId === id)!;
    expect(report.caughtUp).toBe(true);
    expect(report.shards).toBe(2);
    expect(report.devices).toBe(5);
    expect(dev('dev-a')).toMatchObject({ readings: 17, firstSeq: 1, lastSeq: 20, gaps: 3, gapRanges: [[5, 6], [12, 12]], duplicateSeqs: 0, duplicateIds: 0, reordered: 0 });
    expect(dev('dev-b')).toMatchObject({ readings: 12, distinctSeqs: 10, gaps: 0, duplicateSeqs: 2, duplicateIds: 1, reordered: 0 });
    expect(dev('dev-c')).toMatchObject({ readings: 5, gaps: 0, duplicateSeqs: 0, duplicateIds: 0, reordered: 1 });
    expect(dev('dev-d')).toMatchObject({ readings: 33, distinctSeqs: 30, gaps: 0, duplicateSeqs: 3, duplicateIds: 3, reordered: 0 });
    expect(dev('dev-e')).toMatchObject({ readings: 5, gaps: 0 });
    expect(report.totals).toEqual({ readings: 72, gaps: 3, duplicateSeqs: 5, duplicateIds: 4, reordered: 1 });
    expect(report.unreadable.count).toBe(2);
    expect(report.unreadable.examples.map((u) => u.reason.split(':')[0]).sort()).toEqual(['ERR_KPL_CHECKSUM', 'not_json']);
    // Latency: arrival minus the device's ts (≥ 500 ms here), or minus receivedAt when there was no ts.
    expect(dev('dev-a').latencyMs.from).toBe('ts');
    expect(dev('dev-a').latencyMs.p50).toBeGreaterThanOrEqual(499);
    expect(dev('dev-a').latencyMs.max).toBeLessThan(30_000);
    expect(dev('dev-e').latencyMs).toMatchObject({ from: 'receivedAt', count: 5 });
    expect(dev('dev-e').latencyMs.p50).toBeGreaterThanOrEqual(999);
    expect(report.latencyMs.from).toBe('mixed');
    expect(report.latencyMs.count).toBe(72);
    expect(verifyExitCode(report)).toBe(3);
  });

  it('treats (device, boot) as the sequence space: a reboot restarts seq without duplicates or gaps, a repeat within a boot still counts', async () => {
    const ts = Date.now();
    // dev-r ran twice (two boots), seq 1..30 each time, in one shard and interleaved: nothing is wrong.
    const first = range(1, 30).map((seq) => plain({ deviceId: 'dev-r', seq, ts, boot: 'aaaa0001' }));
    const second = range(1, 30).map((seq) => plain({ deviceId: 'dev-r', seq, ts, boot: 'bbbb0002' }));
    await put([...first.slice(0, 20), ...second.slice(0, 10), ...first.slice(20), ...second.slice(10)]);
    // dev-s: two boots too, and its second boot sends seq 4 twice and skips seq 8.
    await put([...range(1, 10).map((seq) => plain({ deviceId: 'dev-s', seq, ts, boot: 'cccc0001' })), ...[1, 2, 3, 4, 4, 5, 6, 7, 9, 10].map((seq) => plain({ deviceId: 'dev-s', seq, ts, boot: 'dddd0002' }))]);

    const report = await verify();
    const dev = (id: string) => report.perDevice.find((p) => p.deviceId === id)!;
    expect(dev('dev-r')).toMatchObject({ readings: 60, distinctSeqs: 60, boots: 2, firstSeq: 1, lastSeq: 30, gaps: 0, duplicateSeqs: 0, duplicateIds: 0, reordered: 0 });
    expect(dev('dev-s')).toMatchObject({ readings: 20, distinctSeqs: 19, boots: 2, gaps: 1, gapRanges: [[8, 8]], duplicateSeqs: 1, duplicateIds: 0, reordered: 0 });
    expect(report.totals).toEqual({ readings: 80, gaps: 1, duplicateSeqs: 1, duplicateIds: 0, reordered: 0 });
    expect(verifyExitCode(report)).toBe(3);
  });

  it('reads the closed parent shard after a split, so a device spanning the reshard is complete and in order', async () => {
    await put(range(1, 10).map((seq) => plain({ deviceId: 'dev-f', seq, ts: Date.now() })));
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName: STREAM }))).Shards!;
    const parent = shards.find((s) => BigInt(s.HashKeyRange!.StartingHashKey!) === 0n)!;
    const middle = (BigInt(parent.HashKeyRange!.StartingHashKey!) + BigInt(parent.HashKeyRange!.EndingHashKey!)) / 2n;
    await kinesis.send(new SplitShardCommand({ StreamName: STREAM, ShardToSplit: parent.ShardId!, NewStartingHashKey: middle.toString() }));
    await expect.poll(async () => (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }))).StreamDescriptionSummary?.StreamStatus, { timeout: 10_000 }).toBe('ACTIVE');
    await put(range(11, 20).map((seq) => plain({ deviceId: 'dev-f', seq, ts: Date.now() })));
    await put(range(1, 10).map((seq) => plain({ deviceId: `dev-g${seq}`, seq: 1, ts: Date.now() })));

    const report = await verify();
    expect(report.shards).toBe(4);
    expect(report.perDevice.find((p) => p.deviceId === 'dev-f')).toMatchObject({ readings: 20, firstSeq: 1, lastSeq: 20, gaps: 0, duplicateSeqs: 0, reordered: 0 });
    expect(report.totals).toEqual({ readings: 30, gaps: 0, duplicateSeqs: 0, duplicateIds: 0, reordered: 0 });
    expect(verifyExitCode(report)).toBe(0);
  });

  it('from the command line: a table on success (exit 0), JSON and exit status 3 on gaps; --since skips older records', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    await put(range(1, 5).map((seq) => plain({ deviceId: 'dev-h', seq, ts: Date.now() })));
    const args = ['tail', '--config', 'config/default.yaml', '--endpoint', emulator.endpoint, '--stream', STREAM, '--verify'];
    const clean = await tidegate(...args);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^stream verify-stream: 5 record\(s\) in 2 shard\(s\), 1 device\(s\)\n/);
    expect(clean.stdout).toMatch(/\ndev-h +5 +1\.\.5 +0 +0 +0 +0 /);

    // Kinesis arrival timestamps have millisecond resolution; a later write is at least 1 ms past `mark`.
    await new Promise((r) => setTimeout(r, 20));
    const mark = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    // kinesalite never answers GetShardIterator AT_TIMESTAMP on a shard with nothing at or after the time
    // (its lookup has no empty case); AWS returns an iterator at the tip. Write to both shards after the mark.
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName: STREAM }))).Shards!.map((s) => ({ shardId: s.ShardId!, start: BigInt(s.HashKeyRange!.StartingHashKey!), end: BigInt(s.HashKeyRange!.EndingHashKey!) }));
    const otherShard = shards.find((s) => s.shardId !== shardFor(shards, hashKeyOf('dev-h')))!.shardId;
    const other = range(1, 50).map((i) => `dev-i${i}`).find((k) => shardFor(shards, hashKeyOf(k)) === otherShard)!;
    await put([7, 8, 10].map((seq) => plain({ deviceId: 'dev-h', seq, ts: Date.now() })));
    await put([plain({ deviceId: other, seq: 1, ts: Date.now() })]);
    const gaps = await tidegate(...args, '--json');
    expect(gaps.code).toBe(3);
    const report = JSON.parse(gaps.stdout) as { totals: { gaps: number }; perDevice: { gapRanges: number[][] }[] };
    expect(report.totals.gaps).toBe(2);
    expect(report.perDevice[0]!.gapRanges).toEqual([[6, 6], [9, 9]]);

    const since = await tidegate(...args, '--json', '--since', mark);
    expect(JSON.parse(since.stdout)).toMatchObject({ records: 4, devices: 2, totals: { readings: 4, gaps: 1 } });

    const usage = await tidegate('tail', '--json');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('go with --verify');
    const badSince = await tidegate('tail', '--verify', '--since', 'yesterday');
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('--since must be an ISO 8601 time');
  });

  it('tail and tail --verify give up after the call timeout on an endpoint that accepts and never answers', async () => {
    const proxy = new KinesisFaultProxy(emulator.port, { faults: { blackHole: true } });
    await proxy.start();
    const client = createKinesisClient({ region: LOCAL_REGION, endpoint: proxy.url, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 400 });
    try {
      const started = Date.now();
      await expect(tailStream(client, STREAM, { from: 'trim-horizon', follow: false, callTimeoutMs: 400 }, () => undefined, AbortSignal.timeout(10_000))).rejects.toThrow();
      await expect(verifyStream(client, STREAM, { callTimeoutMs: 400 }, AbortSignal.timeout(10_000))).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(proxy.stats().blackHoled).toBe(2);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
