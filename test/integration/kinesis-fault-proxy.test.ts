import { ListShardsCommand, PutRecordsCommand, DescribeStreamSummaryCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { createKinesisClient } from '../../src/sinks/kinesis/sdk-port.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/kinesis-local/emulator.js';
import { KinesisFaultProxy } from '../helpers/kinesis-fault-proxy.js';
import { hashKeyOf, shardFor, type ShardRange } from '../helpers/kinesis-shard-limits.js';
import { emulatorClient, readWholeStream } from '../helpers/stream-reader.js';

const STREAM = 'proxy-stream';

const entry = (pk: string, body: object, explicitHashKey?: string): PutRecordsRequestEntry => ({
  PartitionKey: pk,
  Data: Buffer.from(JSON.stringify(body)),
  ...(explicitHashKey ? { ExplicitHashKey: explicitHashKey } : {}),
});
const entries = (n: number, pk = (i: number) => `dev-${i % 7}`): PutRecordsRequestEntry[] =>
  Array.from({ length: n }, (_, i) => entry(pk(i), { id: `r-${i}`, deviceId: pk(i), seq: i, receivedAt: 0, values: {} }));

describe('Kinesis fault proxy (in front of kinesalite, driven by the AWS SDK client)', () => {
  let emulator: LocalEmulator;
  let direct: KinesisClient;
  let proxy: KinesisFaultProxy;
  let client: KinesisClient;

  beforeEach(async () => {
    emulator = await startLocalEmulator('127.0.0.1', 0);
    direct = emulatorClient(emulator.endpoint);
    await ensureStream(direct, STREAM, 4, AbortSignal.timeout(10_000));
    proxy = new KinesisFaultProxy(emulator.port, { seed: 7 });
    await proxy.start();
    client = createKinesisClient({ region: LOCAL_REGION, endpoint: proxy.url, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 1_000 });
  });

  afterEach(async () => {
    client.destroy();
    direct.destroy();
    await proxy.close();
    await emulator.close();
  });

  const put = (records: PutRecordsRequestEntry[]) => client.send(new PutRecordsCommand({ StreamName: STREAM, Records: records }));
  const ranges = async (): Promise<ShardRange[]> =>
    ((await direct.send(new ListShardsCommand({ StreamName: STREAM }))).Shards ?? []).map((s) => ({ shardId: s.ShardId!, start: BigInt(s.HashKeyRange!.StartingHashKey!), end: BigInt(s.HashKeyRange!.EndingHashKey!) }));

  it('passes other operations through and routes by MD5 of the partition key exactly as kinesalite does', async () => {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
    expect(summary.StreamDescriptionSummary?.OpenShardCount).toBe(4);
    const shards = await ranges();
    const out = await put(entries(300, (i) => `key-${i}`));
    expect(out.FailedRecordCount).toBe(0);
    out.Records!.forEach((r, i) => expect(r.ShardId).toBe(shardFor(shards, hashKeyOf(`key-${i}`))));
    // ExplicitHashKey overrides the partition key's hash.
    const last = shards[3]!;
    const explicit = await put([entry('key-0', { id: 'x' }, last.start.toString())]);
    expect(explicit.Records![0]!.ShardId).toBe(last.shardId);
    expect(proxy.calls.map((c) => c.operation)).toEqual(['DescribeStreamSummary', 'PutRecords', 'PutRecords']);
  });

  it('fails a share of entries, forwards only the others, and merges the results back in request order', async () => {
    proxy.setFaults({ entryFailures: { share: 0.4, code: 'InternalFailure' } });
    const sent = entries(200);
    const out = await put(sent);
    const failed = out.Records!.flatMap((r, i) => (r.ErrorCode ? [i] : []));
    expect(out.Records).toHaveLength(200);
    expect(out.FailedRecordCount).toBe(failed.length);
    expect(failed.length).toBeGreaterThan(40);
    expect(failed.length).toBeLessThan(120);
    for (const i of failed) expect(out.Records![i]).toEqual({ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' });
    // Exactly the successes are in the stream, each where the response said, in request order per shard.
    const stream = await readWholeStream(direct, STREAM);
    const okIds = out.Records!.flatMap((r, i) => (r.ErrorCode ? [] : [`r-${i}`]));
    expect(stream.map((r) => r.id).sort()).toEqual([...okIds].sort());
    for (const r of stream) expect(out.Records![Number(r.id.slice(2))]!.ShardId).toBe(r.shardId);
    const failedIds = new Set(failed.map((i) => `r-${i}`));
    expect(stream.some((r) => failedIds.has(r.id))).toBe(false);
    expect(proxy.stats().entriesFailed.injected).toBe(failed.length);
  });

  it('names the shard in a throttled entry as AWS does', async () => {
    proxy.setFaults({ entryFailures: { share: 1, code: 'ProvisionedThroughputExceededException' } });
    const shards = await ranges();
    const out = await put([entry('th-042', { id: 'a' })]);
    const shardId = shardFor(shards, hashKeyOf('th-042'));
    expect(out.FailedRecordCount).toBe(1);
    expect(out.Records![0]).toEqual({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: `Rate exceeded for shard ${shardId} in stream ${STREAM} under account 000000000000.` });
    expect(await readWholeStream(direct, STREAM)).toHaveLength(0);
  });

  it('answers whole calls with 5xx or throttling errors and writes nothing; then recovers', async () => {
    proxy.setFaults({ callFailures: { kind: 'http503', calls: 1 } });
    await expect(put(entries(3))).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    proxy.setFaults({ callFailures: { kind: 'http500', calls: 1 } });
    await expect(put(entries(3))).rejects.toMatchObject({ name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
    proxy.setFaults({ callFailures: { kind: 'ProvisionedThroughputExceededException', calls: 1 } });
    await expect(put(entries(3))).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    proxy.setFaults({ callFailures: { kind: 'LimitExceededException', calls: 1 } });
    await expect(put(entries(3))).rejects.toMatchObject({ name: 'LimitExceededException' });
    expect(await readWholeStream(direct, STREAM)).toHaveLength(0);
    expect((await put(entries(3))).FailedRecordCount).toBe(0);
    expect(await readWholeStream(direct, STREAM)).toHaveLength(3);
    expect(proxy.stats().callsFailed).toBe(4);
  });

  it('drops a response after the write: the caller sees a network error, the records are in the stream', async () => {
    proxy.setFaults({ dropResponses: 1 });
    await expect(put(entries(5))).rejects.toThrow();
    expect((await readWholeStream(direct, STREAM)).map((r) => r.id).sort()).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
    expect(proxy.stats()).toMatchObject({ responsesDropped: 1, entriesInDroppedResponses: 5 });
    expect((await put(entries(1))).FailedRecordCount).toBe(0); // only one was to be dropped
  });

  it('black-holes every call until turned off, and adds latency', async () => {
    proxy.setFaults({ blackHole: true });
    const started = Date.now();
    // The SDK's requestTimeout only logs a warning in this @smithy/node-http-handler version; an abort signal bounds the call.
    await expect(client.send(new ListShardsCommand({ StreamName: STREAM }), { abortSignal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    await expect(client.send(new PutRecordsCommand({ StreamName: STREAM, Records: entries(2) }), { abortSignal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900); // two client aborts of 1 s each
    expect(await readWholeStream(direct, STREAM)).toHaveLength(0);
    proxy.setFaults({ blackHole: false, latencyMs: 300 });
    const t0 = Date.now();
    expect((await put(entries(2))).FailedRecordCount).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(proxy.stats().blackHoled).toBe(2);

    // A timed black-hole ends by itself; the call held meanwhile is cut, the next one goes through.
    proxy.setFaults({ latencyMs: 0 });
    proxy.blackHoleFor(300);
    await expect(client.send(new ListShardsCommand({ StreamName: STREAM }), { abortSignal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    expect((await put(entries(1))).FailedRecordCount).toBe(0);
  });

  it('enforces per-shard record and byte limits, fails the excess naming the shard, and keeps the per-second ledger within them', async () => {
    proxy.setFaults({ shardLimits: { recordsPerSecond: 100, bytesPerSecond: 1_048_576 } });
    const shards = await ranges();
    const shardId = shardFor(shards, hashKeyOf('hot'))!;
    const hot = entries(250, () => 'hot');
    const hotBytes = hot.reduce((n, e) => n + e.Data!.length + 'hot'.length, 0);
    const out = await put(hot);
    const failed = out.Records!.filter((r) => r.ErrorCode);
    // One call is accounted to one second: 100 go through, 150 are throttled.
    expect(out.FailedRecordCount).toBe(150);
    expect(out.Records!.slice(0, 100).every((r) => !r.ErrorCode)).toBe(true);
    for (const r of failed) expect(r.ErrorMessage).toBe(`Rate exceeded for shard ${shardId} in stream ${STREAM} under account 000000000000.`);
    expect(proxy.stats().entriesFailed.rateLimited).toBe(150);

    proxy.setFaults({ shardLimits: { recordsPerSecond: 1_000, bytesPerSecond: 20_000 } });
    const big = Array.from({ length: 10 }, (_, i) => entry('big', { id: `b-${i}`, pad: 'x'.repeat(5_000) }));
    const second = await put(big);
    // Data plus partition key counts toward the byte limit; one call is accounted to one second.
    const entryBytes = big[0]!.Data!.length + 'big'.length;
    const fit = Math.floor(20_000 / entryBytes);
    expect(fit).toBe(3);
    expect(second.FailedRecordCount).toBe(10 - fit);
    expect(second.Records!.slice(0, fit).every((r) => !r.ErrorCode)).toBe(true);
    const peak = proxy.stats().peakShardSecond;
    expect(peak.records).toBeLessThanOrEqual(1_000);
    for (const t of proxy.ledger()) expect(t.bytes).toBeLessThanOrEqual(1_048_576);
    expect(proxy.ledger().reduce((n, t) => n + t.records, 0)).toBe(100 + fit);
    // The ledger counts every entry offered, refused ones too: the client's rate, not the proxy's.
    expect(proxy.ledger().reduce((n, t) => n + t.offered.records, 0)).toBe(250 + 10);
    expect(proxy.ledger().reduce((n, t) => n + t.offered.bytes, 0)).toBe(big.length * entryBytes + hotBytes);
    expect(proxy.stats().peakOfferedShardSecond.records).toBeGreaterThanOrEqual(250);
    expect(proxy.stats().peakOfferedShardSecond.records).toBeGreaterThan(100);
    const stream = await readWholeStream(direct, STREAM);
    expect(stream).toHaveLength(100 + (10 - second.FailedRecordCount!));
  });
});
