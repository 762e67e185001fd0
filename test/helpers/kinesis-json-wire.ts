import type http from 'node:http';
import { deaggregate, isAggregated } from '../../src/kinesis-agg/deaggregate.js';
import type { CallFault, EntryFault } from './kinesis-fault-proxy.js';

/** The Kinesis JSON protocol as the fault proxy writes it: entries, results, error bodies in AWS's wording. */
const ACCOUNT = '000000000000';

export interface PutEntry {
  Data: string;
  PartitionKey: string;
  ExplicitHashKey?: string;
}
export interface PutResult {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

/** User records in an entry: 1, or the size of a KPL aggregate (1 if it cannot be read). */
export function userRecordCount(e: PutEntry): number {
  const data = Buffer.from(e.Data, 'base64');
  if (!isAggregated(data)) return 1;
  try {
    return deaggregate(data, e.PartitionKey).length;
  } catch {
    return 1;
  }
}

/** The `id` of each user record in an entry whose data is a tidegate JSON record or a KPL aggregate of them. */
export function userRecordIds(e: PutEntry): string[] {
  try {
    return deaggregate(Buffer.from(e.Data, 'base64'), e.PartitionKey).flatMap((sub) => {
      const id = (JSON.parse(sub.data.toString('utf8')) as { id?: unknown }).id;
      return typeof id === 'string' ? [id] : [];
    });
  } catch {
    return []; // not tidegate's: counted as one record, no id
  }
}

/** Per-entry error texts as AWS words them. */
export function entryError(code: EntryFault, shardId: string, stream: string): PutResult {
  return code === 'InternalFailure'
    ? { ErrorCode: code, ErrorMessage: 'Internal service failure.' }
    : { ErrorCode: code, ErrorMessage: `Rate exceeded for shard ${shardId} in stream ${stream} under account ${ACCOUNT}.` };
}

/** A whole-call failure: nothing was forwarded. */
export function replyCallFault(res: http.ServerResponse, kind: CallFault, stream: string): void {
  const json = (status: number, type: string, message: string): void =>
    reply(res, status, { 'content-type': 'application/x-amz-json-1.1' }, Buffer.from(JSON.stringify({ __type: type, message })));
  if (kind === 'http500') return json(500, 'InternalFailure', 'Internal service failure.');
  if (kind === 'http503') return json(503, 'ServiceUnavailable', 'Service unavailable.');
  // ProvisionedThroughputExceededException and LimitExceededException: HTTP 400 with the type in `__type`.
  return json(400, kind, `Rate exceeded for stream ${stream} under account ${ACCOUNT}.`);
}

export function reply(res: http.ServerResponse, status: number, headers: http.IncomingHttpHeaders, body: Buffer): void {
  const keep = Object.fromEntries(Object.entries(headers).filter(([k]) => !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)));
  res.writeHead(status, { ...keep, 'content-length': body.length });
  res.end(body);
}

export function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A small seeded PRNG: the same seed fails the same entries. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
