import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { readKinesisTarget, type KinesisTarget } from '../config/kinesis-target.js';
import { delay } from '../core/abort.js';
import { describeError } from '../core/errors.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../kinesis-local/emulator.js';
import { deaggregate } from '../kinesis-agg/deaggregate.js';
import { createKinesisClient } from '../sinks/kinesis/sdk-port.js';

export interface TailOptions {
  config: string;
  stream?: string;
  endpoint?: string;
  from: 'trim-horizon' | 'latest';
  follow: boolean;
  limit?: number;
  /** Read the whole stream once and report per device gaps, duplicates, reorderings and latency. */
  verify?: boolean;
  /** With verify: start at this time instead of the oldest record. */
  since?: Date;
  /** With verify: stop reading after this many seconds. */
  duration?: number;
  /** With verify: the report as JSON. */
  json?: boolean;
}

// AWS allows 5 GetRecords calls per second per shard; stay under it, and poll gently when idle.
const MIN_POLL_MS = 250;
const IDLE_POLL_MS = 1000;
const RELIST_MS = 30_000;

/** `tidegate tail`: reads the stream from every shard and prints each record as one JSON line. */
export async function tailCommand(opts: TailOptions): Promise<number> {
  const target = await kinesisTarget(opts.config);
  const client = tailClient(target, opts.endpoint);
  const stream = opts.stream ?? target.streamName;
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', () => stop.abort()); // a closed pipe (tail | head) ends the tail
  try {
    if (opts.verify) return await verifyCommand(client, stream, opts, target.requestTimeoutMs, stop.signal);
    const printed = await tailStream(client, stream, { ...opts, callTimeoutMs: target.requestTimeoutMs }, (line) => process.stdout.write(`${line}\n`), stop.signal);
    process.stderr.write(`tidegate tail: ${printed} record(s) from ${stream}\n`);
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0;
    process.stderr.write(`tidegate tail: cannot read stream ${stream}: ${describeError(err)}\n`);
    return 1;
  } finally {
    client.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The stream the config names, read without the schema when its keys are well-formed (most of a second
 * less on a small board); the whole config otherwise, whose validation says what is wrong.
 */
async function kinesisTarget(configFile: string): Promise<KinesisTarget> {
  const light = await readKinesisTarget(configFile);
  if (light) return light;
  const { loadConfig } = await import('../config/load.js');
  return (await loadConfig(configFile)).kinesis;
}

async function verifyCommand(client: KinesisClient, stream: string, opts: TailOptions, callTimeoutMs: number, signal: AbortSignal): Promise<number> {
  // Loaded only for --verify: the report's modules are not part of a plain tail's start.
  const [{ verifyStream }, { renderReport }, { verifyExitCode }] = await Promise.all([import('./verify/verify-stream.js'), import('./verify/render.js'), import('./verify/exit-code.js')]);
  const report = await verifyStream(
    client,
    stream,
    { callTimeoutMs, ...(opts.since ? { since: opts.since } : {}), ...(opts.duration !== undefined ? { durationMs: opts.duration * 1000 } : {}) },
    signal,
  );
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`);
  return verifyExitCode(report);
}

function tailClient(k: KinesisTarget, endpointOverride?: string): KinesisClient {
  if (!endpointOverride && k.endpoint === 'local') {
    const host = k.local.host.includes(':') ? `[${k.local.host}]` : k.local.host;
    return createKinesisClient({ region: LOCAL_REGION, endpoint: `http://${host}:${k.local.port}`, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: k.requestTimeoutMs });
  }
  const endpoint = endpointOverride ?? k.endpoint;
  return createKinesisClient({ region: k.region, requestTimeoutMs: k.requestTimeoutMs, ...(endpoint ? { endpoint } : {}) });
}

/**
 * Renders a Kinesis record as lines: KPL aggregates (`kinesis.aggregation: kpl`) are unpacked into their
 * readings; each reading's data when that is JSON (tidegate's own records), else a described envelope.
 */
export function formatRecord(shardId: string, r: _Record): string[] {
  const data = Buffer.from(r.Data ?? new Uint8Array());
  const envelope = (bytes: Buffer, extra: object = {}): string =>
    JSON.stringify({ shardId, sequenceNumber: r.SequenceNumber, partitionKey: r.PartitionKey, ...extra, dataBase64: bytes.toString('base64') });
  let parts: Buffer[];
  try {
    parts = deaggregate(data, r.PartitionKey ?? '').map((s) => s.data);
  } catch (err) {
    return [envelope(data, { error: describeError(err) })];
  }
  return parts.map((part) => {
    const text = part.toString('utf8');
    try {
      JSON.parse(text);
      return text;
    } catch {
      return envelope(part);
    }
  });
}

/**
 * Polls every shard until stopped. Without `follow`, returns once every shard has been read up to its
 * tip. Closed shards (after a reshard) are dropped and the shard list is refreshed to find their children.
 */
export async function tailStream(client: KinesisClient, stream: string, opts: Pick<TailOptions, 'from' | 'follow' | 'limit'> & { callTimeoutMs?: number }, print: (line: string) => void, signal: AbortSignal): Promise<number> {
  // The SDK's requestTimeout only logs a warning in the installed @smithy/node-http-handler; an abort signal
  // per call is what bounds a call to an endpoint that accepts and never answers.
  const callTimeoutMs = opts.callTimeoutMs ?? 15_000;
  const call = (): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(callTimeoutMs)]);
  const iterators = new Map<string, string>();
  const finished = new Set<string>();
  let printed = 0;
  let listedAt = 0;
  const type = opts.from === 'latest' ? 'LATEST' : 'TRIM_HORIZON';

  for (;;) {
    if (Date.now() - listedAt > RELIST_MS || iterators.size === 0) {
      for (const shardId of await listShardIds(client, stream, call)) {
        if (iterators.has(shardId) || finished.has(shardId)) continue;
        const it = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: type }), { abortSignal: call() });
        if (it.ShardIterator) iterators.set(shardId, it.ShardIterator);
      }
      listedAt = Date.now();
    }
    let caughtUp = true;
    for (const [shardId, iterator] of iterators) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }), { abortSignal: call() });
      for (const record of out.Records ?? []) {
        for (const line of formatRecord(shardId, record)) {
          print(line);
          printed += 1;
          if (opts.limit !== undefined && printed >= opts.limit) return printed;
        }
      }
      // A shard is at its tip when a read returns nothing; a round of empty reads means all are.
      if ((out.Records?.length ?? 0) > 0) caughtUp = false;
      if (out.NextShardIterator) iterators.set(shardId, out.NextShardIterator);
      else {
        iterators.delete(shardId);
        finished.add(shardId);
        listedAt = 0;
      }
    }
    if (!opts.follow && caughtUp) return printed;
    await delay(caughtUp ? IDLE_POLL_MS : MIN_POLL_MS, signal);
  }
}

async function listShardIds(client: KinesisClient, stream: string, call: () => AbortSignal): Promise<string[]> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await client.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: stream }), { abortSignal: call() });
    for (const s of out.Shards ?? []) if (s.ShardId) ids.push(s.ShardId);
    nextToken = out.NextToken;
  } while (nextToken);
  return ids;
}
