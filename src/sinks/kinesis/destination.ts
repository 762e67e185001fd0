import { isCredentialsError } from '../../aws/credentials.js';
import { delay } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Labels, Metrics } from '../../core/metrics.js';
import type { CallFailure } from './classify.js';
import type { BatchLimits } from './limits.js';
import type { Aggregation } from './plan-call.js';
import type { RecordPort, StreamPort } from './port.js';
import { ShardMap } from './shard-map.js';
import type { ShardPacer } from './shard-pacer.js';

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
 * One place readings are delivered to (a Kinesis stream or a Firehose delivery stream) and everything the sink
 * keeps per place: limits, backoff, the operator failure it is in, the shard map and pacing. The first
 * destination is the default one; its counters keep their plain `kinesis_*` names, routed ones are counted
 * as `route_*{destination}`.
 */
export class Destination {
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
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.id = `${opts.kind}:${opts.name}`;
    this.limits = { ...opts.limits };
    this.backoff = new Backoff({ baseMs: opts.retry.baseDelayMs, maxMs: opts.retry.maxDelayMs });
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
      try {
        await stream.describeStream(this.opts.name, AbortSignal.any([stopping, AbortSignal.timeout(Math.min(STREAM_READ_TIMEOUT_MS, every))]));
        this.count('probes_total', { outcome: 'ok' });
        return;
      } catch (err) {
        this.count('probes_total', { outcome: 'failed' });
        const e = err as { name?: string; code?: string; message?: string };
        // A probe that fails for want of credentials says so in health (the backoff itself continues).
        if (isCredentialsError(err)) this.noteFailed(startedAt, e.code ?? e.name ?? 'CredentialsProviderError', e.message ?? String(err), err);
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
    this.shardRead = stream
      .listShards(this.opts.name, AbortSignal.any([stopping, AbortSignal.timeout(STREAM_READ_TIMEOUT_MS)]))
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
