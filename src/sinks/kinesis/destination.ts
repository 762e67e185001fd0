import { isCredentialsError } from '../../aws/credentials.js';
import { boundedSignal, delay } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError, isTidegateError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Labels, Metrics } from '../../core/metrics.js';
import type { Pending, SendOutcome, Sink, SinkCall, SinkPlan } from '../../pipeline/sink.js';
import { entrySize } from './batcher.js';
import { classifyCallError, type CallFailure } from './classify.js';
import type { BatchLimits } from './limits.js';
import { planCall, type Aggregation, type OutEntry } from './plan-call.js';
import type { PutEntryResult, RecordPort, StreamPort } from './port.js';
import { ShardMap } from './shard-map.js';
import { shardNamedIn, UNKNOWN_SHARD, type ShardPacer } from './shard-pacer.js';

// The shard map is read again at most this often, whatever the signs of a reshard.
const MIN_SHARD_REFRESH_MS = 5_000;
const STREAM_READ_TIMEOUT_MS = 5_000;

export type DestinationKind = 'kinesis' | 'firehose';

export interface DestinationOptions {
  kind: DestinationKind;
  /** Stream name (Kinesis) or delivery stream name (Firehose). */
  name: string;
  port: RecordPort;
  /** Kinesis only: the stream's summary and shard map, for the record limit and pacing. */
  stream?: StreamPort;
  limits: BatchLimits;
  aggregation: Aggregation;
  pacer: ShardPacer | null;
  shardRefreshMs: number;
  learnRecordLimit: boolean;
  retry: { baseDelayMs: number; maxDelayMs: number; probeIntervalMs?: number | undefined };
}

/** How each call of a destination is made and observed. */
export interface CallOptions {
  requestTimeoutMs: number;
  /** Told how long each call took, and how it ended (for the latency histogram). */
  onCall?: ((seconds: number, outcome: 'ok' | 'partial' | 'failed') => void) | undefined;
}

/** One PutRecords (or PutRecordBatch) call as planned: its entries, and the readings they carry. */
export interface KinesisCall extends SinkCall {
  readonly entries: readonly OutEntry[];
}

// A backoff up to this long is simply waited out; a longer one is cut short by a probe that succeeds.
const PROBE_AFTER_MS = 3_000;
const DEFAULT_PROBE_INTERVAL_MS = 2_000;

/** What health needs to know about a destination's delivery: whether calls get through, and the last failure. */
export interface DeliveryState {
  id: string;
  kind: DestinationKind;
  name: string;
  /** A destination a routing rule sends to (not kinesis.streamName). */
  routed: boolean;
  /** When the first call failed since the last call that got anything through (epoch ms); null when the last one did. */
  failingSince: number | null;
  lastFailure: { code: string; message: string; credentials: boolean } | null;
  operatorFailure: CallFailure | null;
}

/**
 * The sink (src/pipeline/sink.ts) for one Kinesis stream or Firehose delivery stream, on the shared AWS core
 * (call classification, credentials, backoff and probes): plans calls within its limits, aggregation and
 * per-shard pacing, sends them, resends exactly the entries that came back with an ErrorCode (after a
 * jittered backoff), and keeps the operator failure it is in and its shard map. The first destination is the
 * default one; its counters keep their plain `kinesis_*` names, routed ones are counted as `route_*{destination}`.
 */
export class Destination implements Sink<KinesisCall> {
  readonly id: string;
  readonly limits: BatchLimits;
  readonly backoff: Backoff;
  operatorFailure: CallFailure | null = null;
  lastRetryLog = 0;
  private failingSince: number | null = null;
  private lastFailure: DeliveryState['lastFailure'] = null;
  private shardMap: ShardMap | null = null;
  private shardsReadAt = -Infinity;
  private shardRead: Promise<void> | null = null;
  private readonly shardsSeen = new Set<string>();

  constructor(
    readonly index: number,
    readonly opts: DestinationOptions,
    private readonly calls: CallOptions,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.id = `${opts.kind}:${opts.name}`;
    this.limits = { ...opts.limits };
    this.backoff = new Backoff({ baseMs: opts.retry.baseDelayMs, maxMs: opts.retry.maxDelayMs });
  }

  get maxEntriesPerCall(): number {
    return this.limits.maxRecords;
  }

  /** KPL aggregation packs many readings into one entry, so a call may take several calls' worth of records. */
  get recordsPerCall(): number {
    return this.opts.aggregation.mode === 'kpl' ? this.limits.maxRecords * 8 : this.limits.maxRecords;
  }

  /** Paced, the splits share the shards' allowance (Sink.quickCallMs); unpaced, each split plans its own calls. */
  get quickCallMs(): number | undefined {
    return this.opts.pacer?.quickCallMs();
  }

  tick(stopping: AbortSignal): void {
    this.maybeRefreshShards(stopping);
  }

  plan(candidates: readonly Pending[]): SinkPlan<KinesisCall> {
    const plan = planCall(candidates, this.limits, this.opts.aggregation, this.opts.pacer);
    return {
      call: plan.entries.length > 0 ? { entries: plan.entries, members: plan.entries.flatMap((e) => e.members) } : null,
      rejected: plan.tooLarge.map((pending) => ({
        pending,
        reason: 'too_large',
        message:
          `record of ${entrySize(pending.record)} bytes (data plus partition key) exceeds the record limit of ${this.limits.maxRecordBytes} bytes ` +
          `of ${this.id} (its maximum record size, bounded by the call size); it is never sent`,
      })),
      pausedForMs: plan.pacedForMs,
    };
  }

  async send(call: KinesisCall, cut: AbortSignal, stopping: AbortSignal): Promise<readonly SendOutcome[]> {
    const { entries } = call;
    const request = new AbortController();
    const abort = (): void => request.abort();
    cut.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(abort, this.calls.requestTimeoutMs);
    let results: PutEntryResult[];
    const started = performance.now();
    const startedAt = Date.now();
    try {
      this.count('calls_total');
      // The planned entries are PutEntries already (partition key and data); no copy per entry.
      results = await this.opts.port.putRecords(this.name, entries, request.signal);
    } catch (err) {
      this.calls.onCall?.((performance.now() - started) / 1000, 'failed');
      await this.onCallFailure(err, startedAt, stopping);
      return call.members.map(() => 'retry');
    } finally {
      clearTimeout(timer);
      cut.removeEventListener('abort', abort);
    }

    if (this.operatorFailure) {
      this.logger.info(this.where, `${this.opts.kind} accepts records again after ${this.operatorFailure.code}`);
      this.operatorFailure = null;
    }
    const outcomes: SendOutcome[] = [];
    let failed = 0;
    let delivered = 0;
    let firstError = '';
    const throttled = new Set<string>();
    // Per shard, what this call landed there: counted once per call, not per record.
    const accepted = new Map<string, { records: number; readings: number; bytes: number }>();
    let reshardSigns = 0;
    results.forEach((result, i) => {
      const entry = entries[i]!;
      for (let m = 0; m < entry.members.length; m++) outcomes.push(result.ok ? 'delivered' : 'retry');
      if (result.ok) {
        delivered += entry.members.length;
        const shard = result.shardId || UNKNOWN_SHARD;
        const landed = accepted.get(shard) ?? accepted.set(shard, { records: 0, readings: 0, bytes: 0 }).get(shard)!;
        landed.records += 1;
        landed.readings += entry.members.length;
        landed.bytes += entry.size;
        // A record landing elsewhere than the map said: the stream was resharded.
        if (this.hasShardMap && entry.shardId !== null && result.shardId && entry.shardId !== result.shardId) reshardSigns += 1;
      } else {
        failed += 1;
        firstError ||= `${result.errorCode}: ${result.errorMessage}`;
        this.count('entry_failures_total', { code: result.errorCode });
        if (result.errorCode === 'ProvisionedThroughputExceededException') {
          const shard = shardNamedIn(result.errorMessage) ?? entry.shardId ?? UNKNOWN_SHARD;
          throttled.add(shard);
          this.count('shard_throttles_total', { shard });
          if (shard !== UNKNOWN_SHARD && !this.knowsShard(shard)) reshardSigns += 1;
        }
      }
    });
    if (delivered > 0) this.noteDelivered();
    else if (failed > 0) this.noteFailed(startedAt, firstError.slice(0, firstError.indexOf(':')), firstError);
    for (const [shard, landed] of accepted) this.countShard(shard, landed.records, landed.readings, landed.bytes);
    const pacer = this.pacer;
    if (pacer) {
      for (const shard of throttled) pacer.onThrottled(shard);
      for (const shard of accepted.keys()) if (!throttled.has(shard)) pacer.onAccepted(shard);
      if (reshardSigns > 0) this.refreshShards('records went to shards the map does not know', stopping);
    }
    this.calls.onCall?.((performance.now() - started) / 1000, failed === 0 ? 'ok' : 'partial');
    this.count('records_total', undefined, entries.length - failed);
    if (failed === 0) {
      this.backoff.reset();
      return outcomes;
    }
    // Partial failure (HTTP 200 with ErrorCodes): only those entries go again, in the next call. When pacing
    // knows the throttled shards, it holds them back itself; the backoff then covers only other errors.
    const onlyThrottles = results.every((r) => r.ok || r.errorCode === 'ProvisionedThroughputExceededException');
    const wait = pacer !== null && onlyThrottles ? 0 : this.backoff.next();
    this.logRetry({ failed, of: entries.length, first: firstError, retryInMs: wait }, `${this.opts.kind} refused some entries; resending exactly those`);
    await delay(wait, stopping).catch(() => undefined);
    return outcomes;
  }

  private async onCallFailure(err: unknown, startedAt: number, stopping: AbortSignal): Promise<void> {
    const failure = classifyCallError(err, this.opts.kind);
    this.count('call_failures_total', { code: failure.code });
    if (stopping.aborted && isAbort(err)) return;
    this.noteFailed(startedAt, failure.code, failure.message, err);
    const wait = failure.kind === 'operator' ? this.opts.retry.maxDelayMs : this.backoff.next();
    if (failure.kind === 'operator') {
      if (this.operatorFailure?.code !== failure.code) {
        this.logger.error(
          { ...this.where, code: failure.code, err: failure.message, probeInMs: wait },
          `${this.opts.kind} needs operator action: ${failure.action}; readings stay buffered until it is fixed`,
        );
      }
      this.operatorFailure = failure;
    } else {
      this.logRetry({ code: failure.code, err: failure.message, retryInMs: wait }, `${this.opts.kind} call failed; the whole call will be retried`);
    }
    await this.waitToRetry(wait, stopping);
  }

  /** Warnings about retries at most every 10 s per destination: an outage must not flood the log. */
  private logRetry(fields: object, message: string): void {
    const now = Date.now();
    if (now - this.lastRetryLog < 10_000) return;
    this.lastRetryLog = now;
    this.logger.warn({ ...this.where, ...fields }, message);
  }

  get name(): string {
    return this.opts.name;
  }

  get pacer(): ShardPacer | null {
    return this.opts.pacer;
  }

  get shards(): readonly string[] {
    return this.shardMap?.shardIds ?? [];
  }

  /** Log fields naming this destination. */
  get where(): Record<string, string> {
    return this.opts.kind === 'kinesis' ? { stream: this.opts.name } : { deliveryStream: this.opts.name };
  }

  get delivery(): DeliveryState {
    return { id: this.id, kind: this.opts.kind, name: this.opts.name, routed: this.index !== 0, failingSince: this.failingSince, lastFailure: this.lastFailure, operatorFailure: this.operatorFailure };
  }

  /** A call got at least one record through: the destination is not failing. */
  noteDelivered(): void {
    this.failingSince = null;
    this.lastFailure = null;
  }

  /** A call (started at `startedAt`, epoch ms) got nothing through. */
  noteFailed(startedAt: number, code: string, message: string, err?: unknown): void {
    this.failingSince ??= startedAt;
    const credentials = err !== undefined && isCredentialsError(err);
    // The IoT provider's failures are told by their stable code, whatever the error's class name.
    this.lastFailure = { code: credentials ? ((err as { code?: string }).code ?? code) : code, message, credentials };
  }

  /**
   * Waits out a retry backoff after a failed call. A long one is probed every probeIntervalMs with
   * DescribeStreamSummary (cheap, and it goes the same way as PutRecords: endpoint, credentials), and ends as
   * soon as a probe succeeds, so delivery resumes within seconds of the link returning however far the
   * backoff has grown. A destination without a stream port (Firehose) waits; its next call is its probe.
   */
  async waitToRetry(waitMs: number, stopping: AbortSignal): Promise<void> {
    const stream = this.opts.stream;
    const every = this.opts.retry.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    if (!stream || waitMs <= Math.max(PROBE_AFTER_MS, every)) {
      await delay(waitMs, stopping).catch(() => undefined);
      return;
    }
    const until = performance.now() + waitMs;
    while (!stopping.aborted) {
      const left = until - performance.now();
      if (left <= 0) return;
      await delay(Math.min(every, left), stopping).catch(() => undefined);
      if (stopping.aborted || performance.now() >= until) return;
      const startedAt = Date.now();
      const bounded = boundedSignal(stopping, Math.min(STREAM_READ_TIMEOUT_MS, every));
      try {
        await stream.describeStream(this.opts.name, bounded.signal);
        this.count('probes_total', { outcome: 'ok' });
        return;
      } catch (err) {
        this.count('probes_total', { outcome: 'failed' });
        const e = err as { name?: string; code?: string; message?: string };
        // A probe that fails for want of credentials says so in health (the backoff itself continues).
        if (isCredentialsError(err)) this.noteFailed(startedAt, e.code ?? e.name ?? 'CredentialsProviderError', e.message ?? String(err), err);
      } finally {
        bounded.done();
      }
    }
  }

  async start(stopping: AbortSignal): Promise<void> {
    if (this.opts.learnRecordLimit) await this.learnRecordLimit();
    if (this.opts.pacer) this.refreshShards('start', stopping);
  }

  /** Counts under the default names for the default destination, under `route_*` with its id otherwise. */
  count(name: string, labels?: Labels, by = 1): void {
    if (this.index === 0) this.metrics.inc(`kinesis_${name}`, labels, by);
    else this.metrics.inc(`route_${name}`, { destination: this.id, ...labels }, by);
  }

  /** What one call landed in `shardId`: the per-shard counters (and the pacing gauge the first time). */
  countShard(shardId: string, records: number, readings: number, bytes: number): void {
    if (this.opts.kind !== 'kinesis') return;
    this.count('shard_records_total', { shard: shardId }, records);
    this.count('shard_readings_total', { shard: shardId }, readings);
    this.count('shard_bytes_total', { shard: shardId }, bytes);
    const pacer = this.opts.pacer;
    if (pacer && !this.shardsSeen.has(shardId)) {
      this.shardsSeen.add(shardId);
      const labels = this.index === 0 ? `{shard="${shardId}"}` : `{destination="${this.id}",shard="${shardId}"}`;
      this.metrics.gauge(`${this.index === 0 ? 'kinesis' : 'route'}_shard_pacing_share${labels}`, () => pacer.snapshot().find((s) => s.shardId === shardId)?.factor ?? 1);
    }
  }

  knowsShard(shardId: string): boolean {
    return this.shardMap?.has(shardId) ?? true;
  }

  get hasShardMap(): boolean {
    return this.shardMap !== null;
  }

  /** Until the map is known (ListShards failed at start) it is tried again every few seconds, later periodically. */
  maybeRefreshShards(stopping: AbortSignal): void {
    if (!this.opts.pacer) return;
    if (!this.shardMap || performance.now() - this.shardsReadAt > this.opts.shardRefreshMs) this.refreshShards(this.shardMap ? 'periodic' : 'start', stopping);
  }

  /**
   * Reads the shard map (ListShards) in the background: at start, periodically, and when replies show a
   * reshard. Until it is known, pacing treats the stream as one shard. Failures keep the old map.
   */
  refreshShards(why: string, stopping: AbortSignal): void {
    const { pacer, stream } = this.opts;
    if (!pacer || !stream || this.shardRead) return;
    const now = performance.now();
    if (now - this.shardsReadAt < MIN_SHARD_REFRESH_MS) return;
    this.shardsReadAt = now;
    const bounded = boundedSignal(stopping, STREAM_READ_TIMEOUT_MS);
    this.shardRead = stream
      .listShards(this.opts.name, bounded.signal)
      .then((shards) => {
        const map = new ShardMap(shards);
        if (map.size === 0) throw new Error('ListShards returned no open shard');
        const before = this.shardMap?.shardIds.join(',');
        this.shardMap = map;
        pacer.setMap(map);
        if (before !== map.shardIds.join(',')) this.logger.info({ ...this.where, shards: map.shardIds, why }, 'shard map read; pacing each shard');
      })
      .catch((err: unknown) => {
        if (stopping.aborted) return;
        this.logger.warn({ ...this.where, err: describeError(err), why }, 'could not read the shard map (ListShards); pacing as before');
      })
      .finally(() => {
        bounded.done();
        this.shardRead = null;
      });
  }

  /** DescribeStreamSummary's MaxRecordSizeInKiB (streams can be raised to 10 MiB); 1 MiB when unknown. */
  private async learnRecordLimit(): Promise<void> {
    if (!this.opts.stream) return;
    try {
      const d = await this.opts.stream.describeStream(this.opts.name, AbortSignal.timeout(STREAM_READ_TIMEOUT_MS));
      if (d.maxRecordBytes !== null) {
        this.limits.maxRecordBytes = Math.min(d.maxRecordBytes, this.limits.maxBytes);
        this.logger.info({ ...this.where, maxRecordBytes: this.limits.maxRecordBytes }, 'stream record limit read');
      }
    } catch (err) {
      // No credentials shows in health from the start, before any reading waits.
      if (isCredentialsError(err)) this.noteFailed(Date.now(), (err as { code?: string }).code ?? (err as Error).name, (err as Error).message, err);
      this.logger.warn(
        { ...this.where, err: describeError(err), maxRecordBytes: this.limits.maxRecordBytes },
        'could not read the stream summary (DescribeStreamSummary); assuming the default record limit',
      );
    }
  }
}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'AbortError' || isTidegateError(err, 'ERR_ABORTED');
}
