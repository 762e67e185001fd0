import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { classifyCallError } from '../../src/sinks/kinesis/classify.js';
import { LeanKinesisPort } from '../../src/sinks/kinesis/lean-put-port.js';
import type { PutEntry } from '../../src/sinks/kinesis/port.js';
import { createKinesisClient, SdkKinesisPort } from '../../src/sinks/kinesis/sdk-port.js';

/** A Kinesis stand-in on loopback that answers each request with the next scripted reply and keeps what it got. */
class ScriptedKinesis {
  readonly requests: Array<{ headers: http.IncomingHttpHeaders; body: Buffer; url: string }> = [];
  private server: http.Server | null = null;
  constructor(private readonly answer: (body: Buffer, n: number) => { status: number; headers?: Record<string, string>; body: string } | 'hold') {}

  async start(host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.requests.push({ headers: req.headers, body, url: req.url ?? '' });
        const a = this.answer(body, this.requests.length);
        if (a === 'hold') return;
        res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1', ...a.headers });
        res.end(a.body);
      });
    });
    this.server.listen(0, host);
    await once(this.server, 'listening');
    return `http://${host.includes(':') ? `[${host}]` : host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const okReply = (body: Buffer): { status: number; body: string } => {
  const records = (JSON.parse(body.toString('utf8')) as { Records: unknown[] }).Records;
  return { status: 200, body: JSON.stringify({ FailedRecordCount: 0, Records: records.map((_, i) => ({ ShardId: 'shardId-000000000000', SequenceNumber: String(1000 + i) })) }) };
};

const entries: PutEntry[] = [
  // Every byte value, so base64 and the body's escaping are exercised; a partition key that JSON must escape.
  { partitionKey: 'pump-"7"\\ünï', data: Uint8Array.from({ length: 256 }, (_, i) => i) },
  { partitionKey: 'tank-1', data: new TextEncoder().encode('{"deviceId":"tank-1","values":{"level":0.5}}') },
  // A view into a larger buffer: only its bytes may go.
  { partitionKey: 'tank-2', data: Buffer.from('xxxxhello-worldyyyy').subarray(4, 15) },
];

describe('direct Kinesis port', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const portFor = (endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = LOCAL_CREDENTIALS): { port: LeanKinesisPort; client: KinesisClient } => {
    const client = createKinesisClient({ region: LOCAL_REGION, endpoint, credentials, requestTimeoutMs: 5_000 });
    const port = new LeanKinesisPort({ endpoint: async () => new URL(endpoint), signingRegion: LOCAL_REGION, credentials });
    cleanups.push(() => port.close());
    return { port, client };
  };

  it('puts the same records as the SDK port: bytes, partition keys and shards, read back from the emulator', async () => {
    const emulator: LocalEmulator = await startLocalEmulator('127.0.0.1', 0);
    cleanups.push(() => emulator.close());
    const { port, client } = portFor(emulator.endpoint);
    await ensureStream(client, 'direct', 4, AbortSignal.timeout(10_000));
    await ensureStream(client, 'via-sdk', 4, AbortSignal.timeout(10_000));

    const direct = await port.putRecords('direct', entries, AbortSignal.timeout(5_000));
    const viaSdk = await new SdkKinesisPort(client).putRecords('via-sdk', entries, AbortSignal.timeout(5_000));

    expect(direct.map((r) => r.ok && r.shardId)).toEqual(viaSdk.map((r) => r.ok && r.shardId));
    const read = async (stream: string): Promise<Array<{ key: string; data: string }>> => {
      const out: Array<{ key: string; data: string }> = [];
      for (const shard of (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []) {
        const it = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
        const page = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! }));
        for (const r of page.Records ?? []) out.push({ key: r.PartitionKey!, data: Buffer.from(r.Data!).toString('hex') });
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    };
    const expected = entries.map((e) => ({ key: e.partitionKey, data: Buffer.from(e.data).toString('hex') })).sort((a, b) => a.key.localeCompare(b.key));
    expect(await read('direct')).toEqual(expected);
    expect(await read('via-sdk')).toEqual(expected);
  });

  it('creates, describes and lists a stream as the SDK port does, and shapes a missing stream as the SDK does', async () => {
    const emulator: LocalEmulator = await startLocalEmulator('127.0.0.1', 0);
    cleanups.push(() => emulator.close());
    const { port, client } = portFor(emulator.endpoint);
    const sdk = new SdkKinesisPort(client);

    await ensureStream(port, 'made-direct', 3, AbortSignal.timeout(10_000));
    const summary = await port.describeStream('made-direct', AbortSignal.timeout(5_000));
    expect(summary).toMatchObject({ status: 'ACTIVE', shards: 3 });
    expect(summary).toEqual(await sdk.describeStream('made-direct', AbortSignal.timeout(5_000)));
    const shards = await port.listShards('made-direct', AbortSignal.timeout(5_000));
    expect(shards).toHaveLength(3);
    expect(shards).toEqual(await sdk.listShards('made-direct', AbortSignal.timeout(5_000)));

    const missing = await port.describeStream('no-such-stream', AbortSignal.timeout(5_000)).then(() => null, (err: unknown) => err);
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
    expect(classifyCallError(missing)).toMatchObject({ kind: 'operator', code: 'ResourceNotFoundException' });
    const again = await port.createStream('made-direct', 1, AbortSignal.timeout(5_000)).then(() => null, (err: unknown) => err);
    expect(again).toMatchObject({ name: 'ResourceInUseException' });
  });

  it('reads every page of ListShards, asking for the next page by its token alone', async () => {
    const shard = (n: number, ending?: string): object => ({
      ShardId: `shardId-00000000000${n}`,
      HashKeyRange: { StartingHashKey: String(n * 100), EndingHashKey: String(n * 100 + 99) },
      SequenceNumberRange: { StartingSequenceNumber: '1', ...(ending ? { EndingSequenceNumber: ending } : {}) },
    });
    const pages = [
      { Shards: [shard(0, '99'), shard(1)], NextToken: 'page-2' },
      { Shards: [shard(2)] },
    ];
    const fake = new ScriptedKinesis((_, n) => ({ status: 200, body: JSON.stringify(pages[n - 1]) }));
    const { port } = portFor(await fake.start());
    cleanups.push(() => fake.close());

    const shards = await port.listShards('paged', AbortSignal.timeout(5_000));
    expect(shards).toEqual([
      { shardId: 'shardId-000000000000', startingHashKey: '0', endingHashKey: '99', closed: true },
      { shardId: 'shardId-000000000001', startingHashKey: '100', endingHashKey: '199', closed: false },
      { shardId: 'shardId-000000000002', startingHashKey: '200', endingHashKey: '299', closed: false },
    ]);
    expect(fake.requests.map((r) => [r.headers['x-amz-target'], JSON.parse(r.body.toString('utf8'))])).toEqual([
      ['Kinesis_20131202.ListShards', { StreamName: 'paged' }],
      ['Kinesis_20131202.ListShards', { NextToken: 'page-2' }],
    ]);
  });

  it('signs what it sends: the SigV4 signature recomputed from the request on the wire matches, with the session token', async () => {
    const fake = new ScriptedKinesis(okReply);
    const endpoint = await fake.start();
    cleanups.push(() => fake.close());
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-1' };
    const { port, client } = portFor(endpoint, credentials);

    const results = await port.putRecords('signed', entries, AbortSignal.timeout(5_000));
    expect(results).toEqual(entries.map(() => ({ ok: true, shardId: 'shardId-000000000000' })));

    const got = fake.requests[0]!;
    expect(got.headers['x-amz-target']).toBe('Kinesis_20131202.PutRecords');
    expect(got.headers['x-amz-security-token']).toBe('session-token-1');
    const sent = JSON.parse(got.body.toString('utf8')) as { StreamName: string; Records: Array<{ Data: string; PartitionKey: string }> };
    expect(sent.StreamName).toBe('signed');
    expect(sent.Records.map((r) => [r.PartitionKey, Buffer.from(r.Data, 'base64').toString('hex')])).toEqual(entries.map((e) => [e.partitionKey, Buffer.from(e.data).toString('hex')]));

    // The server's side of SigV4: canonicalize what arrived (headers as received, the body as received) and sign it again.
    const amzDate = String(got.headers['x-amz-date']);
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)!;
    const signingDate = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(got.headers.authorization))![1]!.split(';');
    expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-target', 'content-type', 'x-amz-date']));
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) headers[name] = String(got.headers[name]);
    const verifier = new SignatureV4({ credentials, region: LOCAL_REGION, service: 'kinesis', sha256: client.config.sha256, applyChecksum: false });
    const u = new URL(endpoint);
    const resigned = await verifier.sign(
      { method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: got.url, headers, body: got.body, query: {} },
      { signingDate },
    );
    expect(got.headers.authorization).toBe(resigned.headers.authorization);
  });

  it('shapes error replies as the SDK does, so they classify alike', async () => {
    const replies: Array<{ status: number; headers?: Record<string, string>; body: string }> = [
      { status: 400, body: JSON.stringify({ __type: 'com.amazonaws.kinesis.v20131202#ResourceNotFoundException', message: 'Stream gone under account 1 not found.' }) },
      { status: 400, headers: { 'x-amzn-errortype': 'ProvisionedThroughputExceededException:http://internal.amazon.com/' }, body: JSON.stringify({ message: 'Rate exceeded for stream' }) },
      { status: 503, headers: { 'content-type': 'text/html' }, body: '<html>Service Unavailable</html>' },
      { status: 200, body: JSON.stringify({ FailedRecordCount: 0, Records: [{ ShardId: 's', SequenceNumber: '1' }] }) },
      { status: 200, body: '<html>not json</html>' },
    ];
    const fake = new ScriptedKinesis((_, n) => replies[n - 1]!);
    const { port } = portFor(await fake.start());
    cleanups.push(() => fake.close());
    const failure = async (): Promise<unknown> => port.putRecords('s', entries, AbortSignal.timeout(5_000)).then(() => null, (err: unknown) => err);

    const notFound = await failure();
    expect(classifyCallError(notFound)).toMatchObject({ kind: 'operator', code: 'ResourceNotFoundException', message: 'Stream gone under account 1 not found.' });
    expect(notFound).toMatchObject({ $metadata: { httpStatusCode: 400 } });
    expect(classifyCallError(await failure())).toMatchObject({ kind: 'retryable', code: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for stream' });
    const unavailable = await failure();
    expect(classifyCallError(unavailable)).toMatchObject({ kind: 'retryable', code: 'InternalFailure' });
    expect(unavailable).toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(classifyCallError(await failure())).toMatchObject({ kind: 'retryable', code: 'InternalFailure', message: 'PutRecords answered 1 results for 3 entries' });
    expect(classifyCallError(await failure())).toMatchObject({ kind: 'retryable', code: 'InternalFailure' });
  });

  it('sends to an endpoint with a path as the SDK does (a trailing slash added), and to an IPv6 literal, signed for its Host', async () => {
    for (const [host, suffix, want] of [['127.0.0.1', '/kinesis', '/kinesis/'], ['127.0.0.1', '/kinesis/', '/kinesis/'], ['::1', '', '/']] as const) {
      const fake = new ScriptedKinesis(okReply);
      const base = await fake.start(host);
      cleanups.push(() => fake.close());
      const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
      const { port, client } = portFor(base + suffix, credentials);
      await port.putRecords('s', entries, AbortSignal.timeout(5_000));
      const got = fake.requests[0]!;
      expect(got.url).toBe(want);
      expect(got.headers.host).toBe(new URL(base).host);
      // The server's side of SigV4, over the headers the request says it signed.
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(got.headers.authorization))![1]!.split(';');
      const headers: Record<string, string> = {};
      for (const name of signedHeaders) headers[name] = String(got.headers[name]);
      const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(got.headers['x-amz-date']))!;
      const signingDate = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
      const u = new URL(base);
      const verifier = new SignatureV4({ credentials, region: LOCAL_REGION, service: 'kinesis', sha256: client.config.sha256, applyChecksum: false });
      const resigned = await verifier.sign({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: got.url, headers, body: got.body, query: {} }, { signingDate });
      expect(got.headers.authorization).toBe(resigned.headers.authorization);
    }
  });

  it('asks for a refused region\'s endpoint once, and for any other failed one again at the next call', async () => {
    let asked = 0;
    const refused = new LeanKinesisPort({ endpoint: async () => (asked++, Promise.reject(Object.assign(new Error('no Kinesis endpoint for kinesis.region "x y"'), { name: 'EndpointError' }))), signingRegion: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => refused.close());
    for (let i = 0; i < 3; i++) {
      const err = await refused.describeStream('s', AbortSignal.timeout(5_000)).then(() => null, (e: unknown) => e);
      expect(classifyCallError(err)).toMatchObject({ kind: 'operator', code: 'EndpointError' });
    }
    expect(asked).toBe(1);
    let tries = 0;
    const flaky = new LeanKinesisPort({ endpoint: async () => (tries++, Promise.reject(new Error('the Kinesis endpoint worker exited with code 1 without an answer'))), signingRegion: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => flaky.close());
    for (let i = 0; i < 3; i++) await expect(flaky.describeStream('s', AbortSignal.timeout(5_000))).rejects.toThrow(/without an answer/);
    expect(tries).toBe(3);
  });

  it('ends a call held by the endpoint when its signal aborts, with an AbortError', async () => {
    const fake = new ScriptedKinesis(() => 'hold');
    const { port } = portFor(await fake.start());
    cleanups.push(() => fake.close());
    const controller = new AbortController();
    const call = port.putRecords('s', entries, controller.signal).then(() => null, (err: unknown) => err);
    await expect.poll(() => fake.requests.length).toBe(1);
    controller.abort();
    expect(await call).toMatchObject({ name: 'AbortError' });
  });

  it('reports a skew of a few minutes from the Date of a reply, and signs with its own time until it reaches 5 minutes', async () => {
    const skewMs = 3 * 60_000;
    const fake = new ScriptedKinesis((body) => ({ ...okReply(body), headers: { date: new Date(Date.now() + skewMs).toUTCString() } }));
    const { port } = portFor(await fake.start());
    cleanups.push(() => fake.close());

    expect(port.clockOffsetMs()).toBe(0);
    await port.putRecords('s', entries, AbortSignal.timeout(5_000));
    expect(Math.abs(port.clockOffsetMs() - skewMs)).toBeLessThan(5_000);
    await port.putRecords('s', entries, AbortSignal.timeout(5_000));
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(fake.requests[1]!.headers['x-amz-date']))!;
    const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    expect(Math.abs(signedAt - Date.now())).toBeLessThan(10_000);
  });

  it('corrects its signing time by the Date of a reply once the skew reaches 5 minutes, as the SDK does', async () => {
    const skewMs = 20 * 60_000;
    const fake = new ScriptedKinesis((body) => ({ ...okReply(body), headers: { date: new Date(Date.now() + skewMs).toUTCString() } }));
    const { port } = portFor(await fake.start());
    cleanups.push(() => fake.close());

    await port.putRecords('s', entries, AbortSignal.timeout(5_000));
    expect(Math.abs(port.clockOffsetMs() - skewMs)).toBeLessThan(5_000);
    await port.putRecords('s', entries, AbortSignal.timeout(5_000));
    const date = String(fake.requests[1]!.headers['x-amz-date']);
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date)!;
    const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    expect(Math.abs(signedAt - (Date.now() + skewMs))).toBeLessThan(10_000);
  });
});
