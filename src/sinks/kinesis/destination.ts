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
  retry: { baseDelayMs: number; maxDelayMs: number };
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
      this.logger.warn(
        { ...this.where, err: describeError(err), maxRecordBytes: this.limits.maxRecordBytes },
        'could not read the stream summary (DescribeStreamSummary); assuming the default record limit',
      );
    }
  }
}
