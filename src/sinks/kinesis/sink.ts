import type { Component, HealthReport } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import { Dispatcher } from '../../pipeline/dispatcher.js';
import type { DurableBuffer, StoredRecord } from '../../buffer/types.js';
import { Destination, type DeliveryState, type DestinationOptions } from './destination.js';
import type { BatchLimits } from './limits.js';
import type { Aggregation } from './plan-call.js';
import type { KinesisPort } from './port.js';
import type { ShardPacer } from './shard-pacer.js';

/** A routing rule: readings it matches go to its destination instead of the default stream (first match wins). */
export interface SinkRoute {
  match: (record: StoredRecord) => boolean;
  destination: Omit<DestinationOptions, 'retry'>;
}

export interface KinesisSinkOptions {
  id: string;
  streamName: string;
  limits: BatchLimits;
  /** How long a partly filled call waits for more readings: until its oldest reading has waited this long. */
  maxAgeMs: number;
  retry: { baseDelayMs: number; maxDelayMs: number; probeIntervalMs?: number | undefined };
  requestTimeoutMs: number;
  /**
   * Calls in flight at once per destination. Records are split among them by a hash of their partition key,
   * and each split has at most one call in flight, so one device's readings never race each other.
   */
  concurrency?: number;
  buffer: DurableBuffer;
  port: KinesisPort;
  /** Told how long each PutRecords call took, and how it ended (for the latency histogram). */
  onCall?: (seconds: number, outcome: 'ok' | 'partial' | 'failed') => void;
  /** KPL aggregation of readings that share a partition key (default none). */
  aggregation?: Aggregation;
  /** Per-shard pacing; absent or null sends as fast as calls return (local emulators have no shard limits). */
  pacer?: ShardPacer | null;
  /** How often the shard map is read again even without a sign of a reshard. */
  shardRefreshMs?: number;
  /**
   * Read the stream's maximum record size (DescribeStreamSummary) at start and use it instead of
   * limits.maxRecordBytes (bounded by the call size).
   */
  learnRecordLimit?: boolean;
  /** Other destinations, by rule; readings no rule matches go to `streamName`. */
  routes?: readonly SinkRoute[];
  logger: Logger;
  metrics: Metrics;
}

/**
 * Forwards the buffer to Kinesis: the generic dispatcher (src/pipeline/dispatcher.ts) in front of the default
 * stream and the destinations routing rules name (other streams, Firehose delivery streams), each a sink of
 * its own (./destination.ts). A record goes to the first route it matches, else to the default stream.
 */
export class KinesisSink implements Component {
  readonly id: string;
  private readonly destinations: Destination[];
  private readonly dispatcher: Dispatcher;

  constructor(opts: KinesisSinkOptions) {
    this.id = opts.id;
    // At 0 from the start, like the admission's reasons (a series must not appear only on its first increment).
    opts.metrics.counter('readings_dead_lettered_total', { reason: 'too_large' });
    const calls = { requestTimeoutMs: opts.requestTimeoutMs, onCall: opts.onCall };
    const main = new Destination(
      0,
      {
        kind: 'kinesis',
        name: opts.streamName,
        port: opts.port,
        stream: opts.port,
        limits: opts.limits,
        aggregation: opts.aggregation ?? { mode: 'none' },
        pacer: opts.pacer ?? null,
        shardRefreshMs: opts.shardRefreshMs ?? 300_000,
        learnRecordLimit: opts.learnRecordLimit ?? false,
        retry: opts.retry,
      },
      calls,
      opts.logger,
      opts.metrics,
    );
    const routes = opts.routes ?? [];
    this.destinations = [main, ...routes.map((r, i) => new Destination(i + 1, { ...r.destination, retry: opts.retry }, calls, opts.logger, opts.metrics))];
    const matches = routes.map((r) => r.match);
    this.dispatcher = new Dispatcher({
      id: opts.id,
      buffer: opts.buffer,
      sinks: this.destinations,
      ...(matches.length > 0 ? { route: (record: StoredRecord) => matches.findIndex((match) => match(record)) + 1 } : {}),
      concurrency: opts.concurrency ?? 1,
      maxAgeMs: opts.maxAgeMs,
      readRetry: opts.retry,
      logger: opts.logger,
      metrics: opts.metrics,
    });
  }

  /** The default stream's record limit in use: its maximum record size once read, bounded by the call size. */
  get maxRecordBytes(): number {
    return this.destinations[0]!.limits.maxRecordBytes;
  }

  /** The default stream's shard map, when pacing has read it. */
  get shards(): readonly string[] {
    return this.destinations[0]!.shards;
  }

  start(): Promise<void> {
    return this.dispatcher.start();
  }

  stop(deadline: AbortSignal): Promise<void> {
    return this.dispatcher.stop(deadline);
  }

  health(): HealthReport {
    const reasons = this.destinations
      .filter((d) => d.operatorFailure)
      .map((d) => `${d.opts.kind} ${d.index === 0 ? '' : `${d.name} `}${d.operatorFailure!.code}: ${d.operatorFailure!.action}`);
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons };
  }

  /** Per destination: whether calls get through, and the last failure (what the health model judges). */
  deliveryState(): DeliveryState[] {
    return this.destinations.map((d) => d.delivery);
  }
}
