import http from 'node:http';
import https from 'node:https';
import type { AwsCredentials, AwsCredentialsProvider } from '../../aws/credential-types.js';
import { SigV4Signer } from '../../aws/sigv4.js';
import { ENDPOINT_REFUSED } from './aws-endpoint.js';
import { internalFailure } from './classify.js';
import { keepAliveAgents } from './keep-alive-agents.js';
import type { KinesisPort, PutEntry, PutEntryResult, StreamSummary } from './port.js';
import { putRecordsResults } from './put-records-reply.js';
import { listAllShards, type ListShardsPage } from './list-shards.js';
import type { ShardRange } from './shard-map.js';

// The AWS JSON 1.1 protocol of Kinesis Data Streams (API version 2013-12-02).
const TARGET_PREFIX = 'Kinesis_20131202.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
// SigV4 refuses a request signed more than 5 minutes away from the service's clock; the SDK corrects its
// signing time by the Date header of a reply once the skew reaches that (@aws-sdk/core isClockSkewed), and
// so does this port.
const SKEW_CORRECTION_MS = 300_000;
// The Date header has a resolution of one second, and the reply took its time to arrive.
const MEASURABLE_SKEW_MS = 2_000;
// A PutRecords reply is about 80 bytes per entry (500 entries per call), a ListShards page of 1,000 shards
// about 300 KB; a reply far beyond that is not one.
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
// The endpoint worker answers in well under a second; one that takes this long is stuck, and the next call tries again.
const ENDPOINT_TIMEOUT_MS = 30_000;

export interface LeanPortOptions {
  /** Where the calls go: a custom endpoint, or AWS's own (awsKinesisEndpoint). Asked once; again after a failure, unless the SDK refused. */
  endpoint: (signal: AbortSignal) => Promise<URL>;
  /** The region requests are signed for (signingRegionOf). */
  signingRegion: string;
  /** Static credentials (a local emulator), or a provider that caches and renews them (the default chain, AWS IoT). */
  credentials: AwsCredentials | AwsCredentialsProvider;
}

/**
 * Kinesis Data Streams without the AWS SDK's client. The SDK builds an object per entry, base64-encodes
 * through its serde, serializes a JSON tree, then parses a full response object per entry: about a third of
 * the gateway's JavaScript time on a paced drain; and its client, signer and credential chain are 2.6 MiB of
 * live heap the gateway would carry (measured; issue: Pi-class efficiency). This port writes the PutRecords body straight from the encoded records
 * and reads back only what the sink uses; DescribeStreamSummary, ListShards and CreateStream (the local
 * emulator) go the same way, a few calls an hour.
 *
 * What it keeps from the SDK, so nothing about AWS changes: the credentials from the SDK's providers (the
 * default chain with its caching and refresh, or the AWS IoT credentials provider), the endpoint from the
 * SDK's own rules (resolved in a worker: region, FIPS, dual-stack; or a custom endpoint), and the SDK's
 * clock-skew correction. It signs with its own SigV4 (src/aws/sigv4.ts), checked against the SDK's signer.
 * Errors take the SDK's shape (`name` = the AWS error code, `$metadata.httpStatusCode`), so
 * classifyCallError reads them alike.
 */
export class LeanKinesisPort implements KinesisPort {
  private readonly agents = keepAliveAgents();
  private readonly closing = new AbortController();
  private readonly signer: SigV4Signer;
  private endpoint: Promise<Target> | null = null;
  /** Server time minus this machine's, from the Date header of the last reply (ms). */
  private observedSkewMs = 0;
  /** What requests are signed with: moved to the observed skew only once that reaches 5 minutes, as the SDK does. */
  private signingOffsetMs = 0;

  constructor(private readonly opts: LeanPortOptions) {
    this.signer = new SigV4Signer(opts.signingRegion, 'kinesis', opts.credentials);
  }

  /**
   * Starts resolving the endpoint (AWS's own takes a worker thread) before the first call needs it, so the
   * first call's time bound is not spent on it. A failure here is the first call's to report.
   */
  prepare(): void {
    this.resolveEndpoint().catch(() => undefined);
  }

  async putRecords(streamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    return putRecordsResults(await this.call('PutRecords', putRecordsBody(streamName, entries), signal), entries.length);
  }

  async describeStream(streamName: string, signal: AbortSignal): Promise<StreamSummary> {
    const out = parseReply(await this.call('DescribeStreamSummary', jsonBody({ StreamName: streamName }), signal), 'DescribeStreamSummary') as {
      StreamDescriptionSummary?: { StreamStatus?: string; OpenShardCount?: number; MaxRecordSizeInKiB?: number };
    };
    const d = out.StreamDescriptionSummary;
    return { status: d?.StreamStatus ?? 'UNKNOWN', shards: d?.OpenShardCount ?? 0, maxRecordBytes: d?.MaxRecordSizeInKiB ? d.MaxRecordSizeInKiB * 1024 : null };
  }

  listShards(streamName: string, signal: AbortSignal): Promise<ShardRange[]> {
    return listAllShards(streamName, async (request) => parseReply(await this.call('ListShards', jsonBody(request), signal), 'ListShards') as ListShardsPage);
  }

  /** Creates a stream (the local emulator: tidegate never creates streams in AWS). */
  async createStream(streamName: string, shardCount: number, signal: AbortSignal): Promise<void> {
    await this.call('CreateStream', jsonBody({ StreamName: streamName, ShardCount: shardCount }), signal);
  }

  /**
   * The skew to report (the gauge and the warning of ClockSkewReporter): what the last reply's Date header
   * measured, or the signing offset when that is larger. The signing offset alone moves only at 5 minutes,
   * and reading timestamps (receivedAt) are off by a skew of 1–5 minutes too, which the operator should hear
   * of. Below 2 s it is the Date header's own resolution and the reply's latency, and reported as none.
   */
  clockOffsetMs(): number {
    const observed = Math.abs(this.observedSkewMs) < MEASURABLE_SKEW_MS ? 0 : this.observedSkewMs;
    return Math.abs(observed) > Math.abs(this.signingOffsetMs) ? observed : this.signingOffsetMs;
  }

  close(): void {
    this.closing.abort(new Error('the Kinesis port was closed'));
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** One signed JSON 1.1 call; the reply's body when it is a 200, else the error in the SDK's shape. */
  private async call(operation: string, body: Buffer, signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const endpoint = await this.resolveEndpoint();
    signal.throwIfAborted();
    const request = {
      method: 'POST',
      host: endpoint.url.host,
      path: endpoint.path,
      headers: { 'content-type': CONTENT_TYPE, 'content-length': String(body.length), 'x-amz-target': TARGET_PREFIX + operation },
      body,
    };
    // Signed with the offset the SDK would use (moved only at 5 minutes of skew), not the reported one.
    const headers = await this.signer.sign(request, new Date(Date.now() + this.signingOffsetMs));
    signal.throwIfAborted();
    const reply = await this.post(endpoint, headers, body, signal);
    this.correctClock(reply.date);
    if (reply.status !== 200) throw replyError(reply.status, reply.errorType, reply.body);
    return reply.body;
  }

  private resolveEndpoint(): Promise<Target> {
    this.endpoint ??= this.opts.endpoint(AbortSignal.any([this.closing.signal, AbortSignal.timeout(ENDPOINT_TIMEOUT_MS)])).then(
      (url) => ({
        url,
        // As the SDK sends it: the endpoint's path with a trailing slash (`http://proxy/kinesis` → `/kinesis/`).
        path: url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
        // An IPv6 literal without its brackets, which http.request would look up as a name; Host keeps them.
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      }),
      (err: unknown) => {
        // A region the rules refused is refused again; anything else (a stopped or failed worker) is asked again.
        if ((err as Error).name !== ENDPOINT_REFUSED) this.endpoint = null;
        throw err;
      },
    );
    return this.endpoint;
  }

  private post(endpoint: Target, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      // A custom endpoint may be plain HTTP (a local emulator); AWS's own are HTTPS.
      const secure = endpoint.url.protocol === 'https:';
      const options = { method: 'POST', hostname: endpoint.hostname, port: endpoint.url.port || undefined, path: endpoint.path, headers };
      const req = secure ? https.request({ ...options, agent: this.agents.https }) : http.request({ ...options, agent: this.agents.http });
      const onAbort = (): void => {
        req.destroy(requestAborted());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => signal.removeEventListener('abort', onAbort);
      req.on('error', (err) => {
        settle();
        reject(signal.aborted ? requestAborted() : err);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            req.destroy(internalFailure(`a Kinesis reply exceeds ${MAX_REPLY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => {
          settle();
          reject(signal.aborted ? requestAborted() : err);
        });
        res.on('end', () => {
          settle();
          const errorType = res.headers['x-amzn-errortype'];
          resolve({
            status: res.statusCode ?? 0,
            date: res.headers.date ?? null,
            errorType: typeof errorType === 'string' ? errorType : null,
            body: Buffer.concat(chunks, size).toString('utf8'),
          });
        });
      });
      req.end(body);
    });
  }

  private correctClock(date: string | null): void {
    if (!date) return;
    const serverMs = Date.parse(date);
    if (!Number.isFinite(serverMs)) return;
    this.observedSkewMs = serverMs - Date.now();
    if (Math.abs(Date.now() + this.signingOffsetMs - serverMs) >= SKEW_CORRECTION_MS) this.signingOffsetMs = serverMs - Date.now();
  }
}

/** Where a call goes, as http.request and the signature take it. */
interface Target {
  url: URL;
  path: string;
  hostname: string;
}

interface Reply {
  status: number;
  date: string | null;
  errorType: string | null;
  body: string;
}

const DATA_OPEN = '{"Data":"';
const KEY_OPEN = '","PartitionKey":';

/**
 * `{"StreamName":…,"Records":[{"Data":"<base64>","PartitionKey":…},…]}`, written straight into one buffer of
 * its exact size: no string per entry, no joined string and no UTF-8 encoding of the whole body afterwards
 * (they were a fifth of the bytes a reading allocated in a burst; issue: Pi-class efficiency).
 */
export function putRecordsBody(streamName: string, entries: readonly PutEntry[]): Buffer {
  const head = `{"StreamName":${JSON.stringify(streamName)},"Records":[`;
  const keys = new Array<string>(entries.length);
  let size = Buffer.byteLength(head, 'utf8') + 2 + Math.max(0, entries.length - 1);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const key = JSON.stringify(e.partitionKey);
    keys[i] = key;
    size += DATA_OPEN.length + base64Length(e.data.byteLength) + KEY_OPEN.length + Buffer.byteLength(key, 'utf8') + 1;
  }
  const body = Buffer.allocUnsafe(size);
  let at = body.write(head, 0, 'utf8');
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (i > 0) at = body.writeUInt8(0x2c, at); // ,
    at += body.write(DATA_OPEN, at, 'latin1');
    // Base64 is ASCII: latin1 copies its characters byte for byte.
    at += body.write(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('base64'), at, 'latin1');
    at += body.write(KEY_OPEN, at, 'latin1');
    at += body.write(keys[i]!, at, 'utf8');
    at = body.writeUInt8(0x7d, at); // }
  }
  at += body.write(']}', at, 'latin1');
  // Every length above is exact; a mismatch would send a truncated or padded body, so it is a bug.
  if (at !== size) throw new Error(`PutRecords body: wrote ${at} bytes of ${size}`);
  return body;
}

/** Characters of the padded base64 encoding of `bytes` bytes. */
function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/**
 * An AWS JSON error reply as the SDK shapes it: the code from `__type` (or the x-amzn-ErrorType header),
 * without its namespace (`com.amazonaws.kinesis.v20131202#`) or trailing URI (`:http://…`).
 */
export function replyError(status: number, errorType: string | null, body: string): Error {
  let parsed: { __type?: unknown; code?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    const value: unknown = JSON.parse(body);
    if (value && typeof value === 'object') parsed = value as typeof parsed;
  } catch {
    // A proxy's or load balancer's HTML page: the status says enough.
  }
  const raw = [errorType, parsed.__type, parsed.code].find((v): v is string => typeof v === 'string' && v.length > 0);
  const code = raw ? sanitizeErrorCode(raw) : status >= 500 ? 'InternalFailure' : `HttpStatus${status}`;
  const message = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`;
  return Object.assign(new Error(message), { name: code, $metadata: { httpStatusCode: status } });
}

function sanitizeErrorCode(raw: string): string {
  let code = raw;
  const colon = code.indexOf(':');
  if (colon >= 0) code = code.slice(0, colon);
  const hash = code.indexOf('#');
  if (hash >= 0) code = code.slice(hash + 1);
  return code;
}

/** As the SDK's HTTP handler rejects an aborted request (`name: AbortError`), so a stop is recognised alike. */
function requestAborted(): Error {
  return Object.assign(new Error('Request aborted'), { name: 'AbortError' });
}

function jsonBody(request: object): Buffer {
  return Buffer.from(JSON.stringify(request), 'utf8');
}

/** A 200 reply's JSON; a body that is not JSON breaks the call's contract, shaped as InternalFailure: retried. */
function parseReply(body: string, operation: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw internalFailure(`${operation} answered a body that is not JSON: ${body.slice(0, 200)}`);
  }
  if (value === null || typeof value !== 'object') throw internalFailure(`${operation} answered JSON that is not an object`);
  return value as Record<string, unknown>;
}
