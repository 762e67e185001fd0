import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { AWS_SHARD_LIMITS, hashKeyOf, listOpenShards, shardFor, ShardRateLimiter, type ShardLimits, type SecondTally, type ShardRange, type ShardSecond } from './kinesis-shard-limits.js';
import { emulatorClient } from './stream-reader.js';
import { entryError, mulberry32, readBody, reply, replyCallFault, userRecordCount, userRecordIds, type PutEntry, type PutResult } from './kinesis-json-wire.js';

/**
 * An HTTP/1.1 proxy between a Kinesis client and kinesalite that speaks the Kinesis JSON protocol
 * (`X-Amz-Target: Kinesis_20131202.<Operation>`, JSON bodies with base64 `Data`) and injects the faults
 * AWS produces and kinesalite never does: per-entry failures inside an HTTP 200, whole-call throttling and
 * 5xx, responses lost after the write happened, silence, latency, and the per-shard write limits.
 * kinesalite checks only the shape of a SigV4 signature, so a PutRecords body can be cut down to the
 * entries that are really forwarded.
 */
export type EntryFault = 'ProvisionedThroughputExceededException' | 'InternalFailure';
/** Whole-call answers: HTTP 500/503, or HTTP 400 with a throttling `__type`. */
export type CallFault = 'http500' | 'http503' | 'ProvisionedThroughputExceededException' | 'LimitExceededException';

export interface FaultSettings {
  /** Each PutRecords entry fails with `code` with probability `share` (seeded, so runs repeat). */
  entryFailures: { share: number; code: EntryFault } | null;
  /** The next `calls` PutRecords calls (Infinity: until changed) are answered with `kind`, nothing forwarded. */
  callFailures: { kind: CallFault; calls: number } | null;
  /** The next N PutRecords calls are forwarded, then the client socket is destroyed once upstream accepted. */
  dropResponses: number;
  /** Every request is accepted and never answered; turning it off destroys the held connections. */
  blackHole: boolean;
  /** Added before every request is handled. */
  latencyMs: number;
  /** Per-shard write limits; null turns them off. */
  shardLimits: ShardLimits | null;
}

export type CallOutcome = 'passed' | 'ok' | 'partial' | 'call-failed' | 'response-dropped' | 'black-holed' | 'upstream-error';

export interface CallRecord {
  /** When the request arrived (epoch ms). */
  at: number;
  operation: string;
  outcome: CallOutcome;
  /** PutRecords only: one outcome per entry, in request order: the shard that took it, or the error code. */
  entries: string[];
  /** PutRecords only: why each failed entry failed (`injected`, `rate-limit`, `upstream`), by index. */
  failedBy: Record<number, 'injected' | 'rate-limit' | 'upstream'>;
}

export interface FaultProxyStats {
  calls: number;
  putRecordsCalls: number;
  entriesReceived: number;
  entriesAccepted: number;
  /** Accepted entries counted in user records (a KPL aggregate holds many). */
  userRecordsAccepted: number;
  entriesFailed: { injected: number; rateLimited: number; upstream: number };
  callsFailed: number;
  responsesDropped: number;
  /** PutRecords calls written upstream after the client had already given up (its own timeout): also ambiguous. */
  clientTimeouts: number;
  /** Entries written upstream in calls whose responses were dropped or came too late: the most a client can duplicate. */
  entriesInDroppedResponses: number;
  /** The same counted in user records (a KPL aggregate holds many). */
  userRecordsInDroppedResponses: number;
  blackHoled: number;
  /**
   * The busiest second of any shard, as accepted. The proxy refuses the excess, so this never exceeds the
   * limits whatever the client does: it checks the proxy, not the client.
   */
  peakShardSecond: { records: number; bytes: number };
  /** The busiest second of any shard, as offered by the client (accepted or refused): what pacing bounds. */
  peakOfferedShardSecond: { records: number; bytes: number };
}

// Bounds the call log of a long benchmark; tests are far below it.
const MAX_CALL_RECORDS = 200_000;

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class KinesisFaultProxy {
  private server: http.Server | null = null;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly held = new Set<Socket>();
  private readonly shardRanges = new Map<string, Promise<ShardRange[]>>();
  private readonly upstreamClient: KinesisClient;
  private readonly random: () => number;
  readonly limiter: ShardRateLimiter;
  readonly calls: CallRecord[] = [];
  /**
   * Record ids (the `id` field of tidegate's JSON records, aggregates de-aggregated) of every entry that was
   * answered with an ErrorCode, and of every entry written in a call whose response was dropped: the only
   * readings a correct client may resend, so the only ones that may be duplicated or reordered.
   */
  readonly failedIds = new Set<string>();
  /** Ids written in calls whose response was dropped, or that the client had given up on before the answer. */
  readonly droppedIds = new Set<string>();
  port = 0;
  faults: FaultSettings;
  private blackHoleTimer: NodeJS.Timeout | undefined;
  private readonly counters = { calls: 0, putRecordsCalls: 0, entriesReceived: 0, entriesAccepted: 0, injected: 0, rateLimited: 0, upstream: 0, callsFailed: 0, userRecordsAccepted: 0, responsesDropped: 0, clientTimeouts: 0, entriesInDroppedResponses: 0, userRecordsInDroppedResponses: 0, blackHoled: 0 };

  constructor(
    private readonly upstreamPort: number,
    opts: { seed?: number; faults?: Partial<FaultSettings> } = {},
  ) {
    this.faults = { entryFailures: null, callFailures: null, dropResponses: 0, blackHole: false, latencyMs: 0, shardLimits: AWS_SHARD_LIMITS, ...opts.faults };
    this.limiter = new ShardRateLimiter(this.faults.shardLimits);
    this.random = mulberry32(opts.seed ?? 1);
    this.upstreamClient = emulatorClient(`http://127.0.0.1:${upstreamPort}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => req.socket.destroy());
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    clearTimeout(this.blackHoleTimer);
    for (const s of this.held) s.destroy();
    this.held.clear();
    const server = this.server;
    this.server = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    this.agent.destroy();
    this.upstreamClient.destroy();
  }

  /** Changes faults at runtime; ending a black-hole destroys the connections it held, as a dead path would. */
  setFaults(change: Partial<FaultSettings>): void {
    this.faults = { ...this.faults, ...change };
    this.limiter.limits = this.faults.shardLimits;
    if (!this.faults.blackHole) {
      for (const s of this.held) s.destroy();
      this.held.clear();
    }
  }

  /** Black-holes every call for `ms`, then lets traffic through again: a period of silence. */
  blackHoleFor(ms: number): void {
    this.setFaults({ blackHole: true });
    clearTimeout(this.blackHoleTimer);
    this.blackHoleTimer = setTimeout(() => this.setFaults({ blackHole: false }), ms);
  }

  /**
   * Per shard, per second: every entry the client offered (accepted, refused by the limits, failed by an
   * injected fault or upstream) and, as `records` and `bytes`, what was accepted.
   */
  ledger(): (ShardSecond & SecondTally)[] {
    return this.limiter.ledger().map((t) => ({ ...t, ...t.accepted }));
  }

  /** Forgets the cached shard map (after a reshard). */
  refreshShards(): void {
    this.shardRanges.clear();
  }

  stats(): FaultProxyStats {
    const c = this.counters;
    return {
      userRecordsInDroppedResponses: c.userRecordsInDroppedResponses,
      calls: c.calls,
      putRecordsCalls: c.putRecordsCalls,
      entriesReceived: c.entriesReceived,
      entriesAccepted: c.entriesAccepted,
      userRecordsAccepted: c.userRecordsAccepted,
      entriesFailed: { injected: c.injected, rateLimited: c.rateLimited, upstream: c.upstream },
      callsFailed: c.callsFailed,
      responsesDropped: c.responsesDropped,
      clientTimeouts: c.clientTimeouts,
      entriesInDroppedResponses: c.entriesInDroppedResponses,
      blackHoled: c.blackHoled,
      peakShardSecond: this.limiter.peak('accepted'),
      peakOfferedShardSecond: this.limiter.peak('offered'),
    };
  }

  /** PutRecords calls that arrived in [from, to) (epoch ms): how a test bounds a retry loop. */
  putRecordsCallsBetween(from: number, to: number): number {
    return this.calls.filter((c) => c.operation === 'PutRecords' && c.at >= from && c.at < to).length;
  }

  private record(call: CallRecord): void {
    if (this.calls.length >= MAX_CALL_RECORDS) this.calls.shift();
    this.calls.push(call);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    // A client that gives up (its timeout) before the answer is written never learns the outcome either.
    let clientGone = false;
    res.once('close', () => {
      if (!res.writableFinished) clientGone = true;
    });
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1);
    this.counters.calls += 1;
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    if (this.faults.blackHole) {
      // Accept and never answer: the client's own timeout is the only way out.
      this.counters.blackHoled += 1;
      this.held.add(req.socket);
      req.socket.once('close', () => this.held.delete(req.socket));
      this.record({ at, operation, outcome: 'black-holed', entries: [], failedBy: {} });
      return;
    }
    if (operation === 'PutRecords') return this.putRecords(at, req, res, body, () => clientGone);
    return this.passThrough(at, operation, req, res, body);
  }

  private async passThrough(at: number, operation: string, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const up = await this.forward(req, body);
    if (!up) return;
    this.record({ at, operation, outcome: 'passed', entries: [], failedBy: {} });
    reply(res, up.status, up.headers, up.body);
  }

  private async putRecords(at: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, clientGone: () => boolean): Promise<void> {
    let request: { StreamName?: string; StreamARN?: string; Records: PutEntry[] };
    try {
      request = JSON.parse(body.toString('utf8')) as typeof request;
      if (!Array.isArray(request.Records)) throw new Error('no Records');
    } catch {
      return this.passThrough(at, 'PutRecords', req, res, body); // let kinesalite word the validation error
    }
    const stream = request.StreamName ?? request.StreamARN?.slice(request.StreamARN.lastIndexOf('/') + 1) ?? '';
    const entries = request.Records;
    this.counters.putRecordsCalls += 1;
    this.counters.entriesReceived += entries.length;

    const callFault = this.faults.callFailures;
    if (callFault && callFault.calls > 0) {
      callFault.calls -= 1;
      this.counters.callsFailed += 1;
      this.record({ at, operation: 'PutRecords', outcome: 'call-failed', entries: entries.map(() => callFault.kind), failedBy: {} });
      return replyCallFault(res, callFault.kind, stream);
    }

    let ranges: ShardRange[];
    try {
      ranges = await this.rangesOf(stream);
    } catch {
      return this.passThrough(at, 'PutRecords', req, res, body); // no such stream: kinesalite answers ResourceNotFoundException
    }
    // One clock reading per call: a call is accounted to one second, as a test can then reason about it.
    const now = Date.now();
    const results: (PutResult | undefined)[] = new Array(entries.length);
    const failedBy: CallRecord['failedBy'] = {};
    const forwarded: { index: number; shardId: string; second: number; bytes: number }[] = [];
    for (const [i, e] of entries.entries()) {
      const bytes = Buffer.from(e.Data, 'base64').length + Buffer.byteLength(e.PartitionKey, 'utf8');
      const shardId = shardFor(ranges, hashKeyOf(e.PartitionKey, e.ExplicitHashKey)) ?? 'unknown';
      this.limiter.offer(shardId, bytes, now);
      const injected = this.faults.entryFailures;
      if (injected && this.random() < injected.share) {
        results[i] = entryError(injected.code, shardId, stream);
        failedBy[i] = 'injected';
        continue;
      }
      const took = this.limiter.take(shardId, bytes, now);
      if (!took.ok) {
        results[i] = entryError('ProvisionedThroughputExceededException', shardId, stream);
        failedBy[i] = 'rate-limit';
        continue;
      }
      forwarded.push({ index: i, shardId, second: took.second, bytes });
    }

    let dropped = false;
    if (forwarded.length > 0) {
      const sub = Buffer.from(JSON.stringify({ ...request, Records: forwarded.map((f) => entries[f.index]) }));
      const up = await this.forward(req, sub);
      if (!up || up.status !== 200) {
        for (const f of forwarded) this.limiter.refund(f.shardId, f.second, f.bytes);
        this.record({ at, operation: 'PutRecords', outcome: 'upstream-error', entries: entries.map(() => `upstream ${up?.status ?? 'unreachable'}`), failedBy: {} });
        if (up) reply(res, up.status, up.headers, up.body);
        return;
      }
      const upResults = (JSON.parse(up.body.toString('utf8')) as { Records: PutResult[] }).Records;
      forwarded.forEach((f, k) => {
        const r = upResults[k] ?? { ErrorCode: 'InternalFailure', ErrorMessage: 'upstream answered too few results' };
        results[f.index] = r;
        if (r.ErrorCode) {
          failedBy[f.index] = 'upstream';
          this.limiter.refund(f.shardId, f.second, f.bytes);
        }
      });
      if (clientGone()) {
        // Written upstream, but the client timed out meanwhile: as ambiguous as a dropped response.
        this.counters.clientTimeouts += 1;
        dropped = true;
      } else if (this.faults.dropResponses > 0) {
        this.faults.dropResponses -= 1;
        this.counters.responsesDropped += 1;
        dropped = true;
      }
    }

    const merged = results as PutResult[];
    const failed = merged.filter((r) => r.ErrorCode).length;
    this.counters.entriesAccepted += entries.length - failed;
    merged.forEach((r, i) => {
      if (!r.ErrorCode) this.counters.userRecordsAccepted += userRecordCount(entries[i]!);
    });
    for (const why of Object.values(failedBy)) {
      if (why === 'injected') this.counters.injected += 1;
      else if (why === 'rate-limit') this.counters.rateLimited += 1;
      else this.counters.upstream += 1;
    }
    const outcomes = merged.map((r) => r.ErrorCode ?? r.ShardId ?? '');
    for (const i of Object.keys(failedBy)) for (const id of userRecordIds(entries[Number(i)]!)) this.failedIds.add(id);
    if (dropped) {
      merged.forEach((r, i) => {
        if (r.ErrorCode) return;
        const ids = userRecordIds(entries[i]!);
        this.counters.userRecordsInDroppedResponses += Math.max(1, ids.length);
        for (const id of ids) this.droppedIds.add(id);
      });
      // The write happened; the client only never hears of it (an ambiguous success).
      this.counters.entriesInDroppedResponses += entries.length - failed;
      this.record({ at, operation: 'PutRecords', outcome: 'response-dropped', entries: outcomes, failedBy });
      req.socket.destroy();
      return;
    }
    this.record({ at, operation: 'PutRecords', outcome: failed === 0 ? 'ok' : 'partial', entries: outcomes, failedBy });
    reply(res, 200, { 'content-type': 'application/x-amz-json-1.1' }, Buffer.from(JSON.stringify({ FailedRecordCount: failed, Records: merged })));
  }

  /** The open shards of a stream and their hash key ranges, from the upstream's ListShards (cached). */
  private rangesOf(stream: string): Promise<ShardRange[]> {
    let ranges = this.shardRanges.get(stream);
    if (!ranges) {
      ranges = listOpenShards(this.upstreamClient, stream);
      ranges.catch(() => this.shardRanges.delete(stream));
      this.shardRanges.set(stream, ranges);
    }
    return ranges;
  }

  /** Sends a request on to kinesalite; null when it cannot be reached (the client socket is then destroyed). */
  private forward(req: http.IncomingMessage, body: Buffer): Promise<Upstream | null> {
    return new Promise((resolve) => {
      const headers = { ...req.headers, host: `127.0.0.1:${this.upstreamPort}`, 'content-length': String(body.length) };
      const up = http.request({ host: '127.0.0.1', port: this.upstreamPort, method: req.method, path: req.url, headers, agent: this.agent }, (upRes) => {
        readBody(upRes).then(
          (b) => resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: b }),
          () => resolve(null),
        );
      });
      up.on('error', () => {
        req.socket.destroy();
        resolve(null);
      });
      up.end(body);
    });
  }
}
