import { delay } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError, isTidegateError } from '../../core/errors.js';
import type { Component, HealthReport } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import type { DurableQueue, Lane, StoredRecord } from '../../queue/types.js';
import { LaneReader, TelemetryReaders, type Pending } from './readers.js';
import { entrySize } from './batcher.js';
import { classifyCallError, type CallFailure } from './classify.js';
import type { BatchLimits } from './limits.js';
import { planCall, type Aggregation, type OutEntry } from './plan-call.js';
import type { KinesisPort, PutEntryResult } from './port.js';
import { ShardMap } from './shard-map.js';
import { shardNamedIn, UNKNOWN_SHARD, type ShardPacer } from './shard-pacer.js';

export interface KinesisSinkOptions {
  id: string;
  streamName: string;
  limits: BatchLimits;
  /** How long a partly filled batch waits for more readings when the sink was idle. */
  maxAgeMs: number;
  retry: { baseDelayMs: number; maxDelayMs: number };
  requestTimeoutMs: number;
  /**
   * PutRecords calls in flight at once. Records are split among them by a hash of their partition key, and
   * each split has at most one call in flight, so one device's readings never race each other.
   */
  concurrency?: number;
  queue: DurableQueue;
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
  logger: Logger;
  metrics: Metrics;
}

// Behind by more than ten full calls, new readings take a live reader that goes ahead of the backlog.
const LIVE_AFTER_CALLS = 10;
// The shard map is read again at most this often, whatever the signs of a reshard.
const MIN_SHARD_REFRESH_MS = 5_000;
const STREAM_READ_TIMEOUT_MS = 5_000;

/**
 * Forwards the queue to one Kinesis stream: reads past its cursor, fills PutRecords calls within the
 * limits, resends exactly the entries that came back with an ErrorCode (merged into the next call, after
 * a jittered backoff), and commits the cursor through the highest contiguous delivered sequence, which
 * lets the queue remove those records. Nothing leaves the disk before Kinesis accepted it.
 */
export class KinesisSink implements Component {
  readonly id: string;
  /** Read but not yet committed records: alarms, then telemetry (a live reader and the backlog). */
  private alarms!: LaneReader;
  private telemetry!: TelemetryReaders;
  private readonly stopping = new AbortController();
  private readonly callAborts = new Set<AbortController>();
  /** Calls in flight, by partition-key split. */
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly concurrency: number;
  private loop: Promise<void> | null = null;
  private cursorWrites: Promise<void> = Promise.resolve();
  private readonly backoff: Backoff;
  private operatorFailure: CallFailure | null = null;
  private lastRetryLog = 0;
  // Bounded read-ahead: one head-of-line record that keeps failing cannot pull the whole backlog into memory.
  private readonly maxWindow: number;
  private limits: BatchLimits;
  private readonly aggregation: Aggregation;
  private readonly pacer: ShardPacer | null;
  private shardMap: ShardMap | null = null;
  private shardsReadAt = -Infinity;
  private shardRead: Promise<void> | null = null;
  private readonly shardsSeen = new Set<string>();

  constructor(private readonly opts: KinesisSinkOptions) {
    this.id = opts.id;
    this.backoff = new Backoff({ baseMs: opts.retry.baseDelayMs, maxMs: opts.retry.maxDelayMs });
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.limits = { ...opts.limits };
    this.aggregation = opts.aggregation ?? { mode: 'none' };
    this.pacer = opts.pacer ?? null;
    // Read-ahead for every split in flight plus the next call of each; aggregation packs many readings into
    // one entry, so it reads further ahead (still bounded).
    const perCall = this.aggregation.mode === 'kpl' ? opts.limits.maxRecords * 8 : opts.limits.maxRecords;
    this.maxWindow = perCall * 2 * (this.concurrency + 1);
  }

  /** The record limit in use: the stream's maximum record size once read, bounded by the call size. */
  get maxRecordBytes(): number {
    return this.limits.maxRecordBytes;
  }

  /** The shard map in use, when pacing has read it. */
  get shards(): readonly string[] {
    return this.shardMap?.shardIds ?? [];
  }

  async start(): Promise<void> {
    if (this.opts.learnRecordLimit) await this.learnRecordLimit();
    if (this.pacer) this.refreshShards('start');
    this.alarms = new LaneReader('alarm', this.opts.queue.cursor(this.id, 'alarm'), false);
    this.telemetry = new TelemetryReaders(this.opts.queue.cursor(this.id, 'telemetry'), this.opts.limits.maxRecords * LIVE_AFTER_CALLS, this.opts.logger);
    this.loop = this.run();
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    // The in-flight call may finish (and its successes be committed) until the deadline; then it is cut.
    const cut = (): void => {
      for (const call of this.callAborts) call.abort();
    };
    if (deadline.aborted) cut();
    else deadline.addEventListener('abort', cut, { once: true });
    try {
      await this.loop;
      await Promise.allSettled([...this.inflight.values()]);
      this.commitProgress();
      await this.cursorWrites;
    } finally {
      deadline.removeEventListener('abort', cut);
    }
  }

  health(): HealthReport {
    if (!this.operatorFailure) return { status: 'ok', reasons: [] };
    return { status: 'degraded', reasons: [`kinesis ${this.operatorFailure.code}: ${this.operatorFailure.action}`] };
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.cycle();
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        // Only the queue can throw here (the port's failures are handled in send); retry after a pause.
        this.opts.logger.error({ err: describeError(err) }, 'kinesis sink could not read the buffer; retrying');
        await delay(this.backoff.next(), this.stopping.signal).catch(() => undefined);
      }
    }
  }

  /** In the order records board a call: alarms, live readings, the backlog. */
  private readers(): LaneReader[] {
    return [this.alarms, ...this.telemetry.all];
  }

  private hasUndelivered(): boolean {
    return this.readers().some((r) => r.hasUndelivered());
  }

  private async cycle(): Promise<void> {
    if (!this.hasUndelivered() && this.inflight.size === 0) {
      await this.fill();
      if (!this.hasUndelivered()) await this.waitForBatch();
      return;
    }
    // Alarms are read right before planning, so they board the very next call (an empty lane costs no read);
    // telemetry is read ahead while calls are in flight, so the next batches are ready when they return.
    await this.alarms.fill(this.opts.queue, this.maxWindow, 1);
    // Until the map is known (ListShards failed at start), it is tried again every few seconds.
    if (this.pacer && (!this.shardMap || performance.now() - this.shardsReadAt > (this.opts.shardRefreshMs ?? 300_000))) this.refreshShards(this.shardMap ? 'periodic' : 'start');
    let pacedForMs: number | null = null;
    for (let split = 0; split < this.concurrency; split++) {
      if (this.inflight.has(split)) continue;
      const candidates = [...this.waiting(split)];
      if (candidates.length === 0) continue;
      const plan = planCall(candidates, this.limits, this.aggregation, this.pacer);
      for (const p of plan.tooLarge) await this.deadLetterTooLarge(p);
      if (plan.pacedForMs !== null) pacedForMs = pacedForMs === null ? plan.pacedForMs : Math.min(pacedForMs, plan.pacedForMs);
      if (plan.entries.length === 0) continue;
      const sending = plan.entries.flatMap((e) => e.members);
      for (const p of sending) p.sending = true;
      const call = this.send(plan.entries).finally(() => {
        for (const p of sending) p.sending = false;
        this.inflight.delete(split);
      });
      this.inflight.set(split, call);
    }
    // Settled into a value so a failed read (the store reopening) is handled here, not left unobserved.
    const readFailure = this.telemetry.fill(this.opts.queue, this.maxWindow, this.opts.limits.maxRecords).then(
      () => null,
      (err: unknown) => err,
    );
    // Waits for a call to return, or, when pacing held readings back, for their shard to have room again.
    const waits: Promise<unknown>[] = [...this.inflight.values()];
    const pause = new AbortController();
    if (pacedForMs !== null) waits.push(delay(Math.min(1_000, Math.max(2, Math.ceil(pacedForMs))), AbortSignal.any([this.stopping.signal, pause.signal])).catch(() => undefined));
    if (waits.length > 0) await Promise.race(waits);
    pause.abort();
    const failure = await readFailure;
    if (failure) throw failure;
    this.commitProgress();
  }

  /** Records waiting for a call, of one partition-key split: alarms first, then live readings, then the backlog. */
  private *waiting(split: number): Iterable<Pending> {
    for (const reader of this.readers()) {
      for (const p of reader.window) if (!p.done && !p.sending && splitOf(p.record.partitionKey, this.concurrency) === split) yield p;
    }
  }

  private async fill(): Promise<void> {
    await this.alarms.fill(this.opts.queue, this.maxWindow, this.opts.limits.maxRecords);
    await this.telemetry.fill(this.opts.queue, this.maxWindow, this.opts.limits.maxRecords);
  }

  /** Where each lane's newest reader stands: waiting for records means records past these. */
  private positions(): Record<Lane, number> {
    return { alarm: this.alarms.readSeq, telemetry: (this.telemetry.live ?? this.telemetry.backlog).readSeq };
  }

  /**
   * Idle: wait for new records, then give a partly filled batch up to maxAgeMs to fill. Under load the
   * window is never empty, so readings that arrived during a call go out in the very next one.
   */
  private async waitForBatch(): Promise<void> {
    const signal = this.stopping.signal;
    await this.opts.queue.waitForRecords(this.positions(), signal).catch(() => undefined);
    if (signal.aborted || this.opts.maxAgeMs === 0) return;
    const linger = new AbortController();
    const onStop = (): void => linger.abort();
    signal.addEventListener('abort', onStop, { once: true });
    try {
      await Promise.race([
        delay(this.opts.maxAgeMs, linger.signal),
        this.opts.queue.waitForRecords({ ...this.positions(), telemetry: this.positions().telemetry + this.opts.limits.maxRecords - 1 }, linger.signal),
      ]).catch(() => undefined);
    } finally {
      linger.abort();
      signal.removeEventListener('abort', onStop);
    }
  }

  private async send(entries: OutEntry[]): Promise<void> {
    const { metrics, logger } = this.opts;
    const readings = entries.reduce((n, e) => n + e.members.length, 0);
    const call = new AbortController();
    this.callAborts.add(call);
    const timer = setTimeout(() => call.abort(), this.opts.requestTimeoutMs);
    let results: PutEntryResult[];
    const started = performance.now();
    try {
      metrics.inc('kinesis_calls_total');
      results = await this.opts.port.putRecords(
        this.opts.streamName,
        entries.map((e) => ({ partitionKey: e.partitionKey, data: e.data })),
        call.signal,
      );
    } catch (err) {
      this.opts.onCall?.((performance.now() - started) / 1000, 'failed');
      await this.onCallFailure(err);
      return;
    } finally {
      clearTimeout(timer);
      this.callAborts.delete(call);
    }

    if (this.operatorFailure) {
      logger.info({ stream: this.opts.streamName }, `kinesis accepts records again after ${this.operatorFailure.code}`);
      this.operatorFailure = null;
    }
    let failed = 0;
    let delivered = 0;
    let firstError = '';
    const throttled = new Set<string>();
    const accepted = new Set<string>();
    let reshardSigns = 0;
    results.forEach((result, i) => {
      const entry = entries[i]!;
      if (result.ok) {
        for (const p of entry.members) p.done = true;
        delivered += entry.members.length;
        accepted.add(result.shardId);
        this.countShard(result.shardId, entry);
        // A record landing elsewhere than the map said: the stream was resharded.
        if (this.shardMap && entry.shardId !== null && entry.shardId !== result.shardId && result.shardId) reshardSigns += 1;
      } else {
        failed += 1;
        firstError ||= `${result.errorCode}: ${result.errorMessage}`;
        metrics.inc('kinesis_entry_failures_total', { code: result.errorCode });
        if (result.errorCode === 'ProvisionedThroughputExceededException') {
          const shard = shardNamedIn(result.errorMessage) ?? entry.shardId ?? UNKNOWN_SHARD;
          throttled.add(shard);
          metrics.inc('kinesis_shard_throttles_total', { shard });
          if (this.shardMap && shard !== UNKNOWN_SHARD && !this.shardMap.has(shard)) reshardSigns += 1;
        }
      }
    });
    if (this.pacer) {
      for (const shard of throttled) this.pacer.onThrottled(shard);
      for (const shard of accepted) if (!throttled.has(shard)) this.pacer.onAccepted(shard);
      if (reshardSigns > 0) this.refreshShards('records went to shards the map does not know');
    }
    this.opts.onCall?.((performance.now() - started) / 1000, failed === 0 ? 'ok' : 'partial');
    metrics.inc('readings_delivered_total', undefined, delivered);
    metrics.inc('kinesis_records_total', undefined, entries.length - failed);
    this.telemetry.maybeGoLive(this.opts.queue.head('telemetry'));
    if (failed === 0) {
      this.backoff.reset();
      return;
    }
    // Partial failure (HTTP 200 with ErrorCodes): only those entries go again, in the next call. When pacing
    // knows the throttled shards, it holds them back itself; the backoff then covers only other errors.
    const onlyThrottles = results.every((r) => r.ok || r.errorCode === 'ProvisionedThroughputExceededException');
    const wait = this.pacer !== null && onlyThrottles ? 0 : this.backoff.next();
    this.logRetry({ failed, of: entries.length, first: firstError, retryInMs: wait }, 'kinesis refused some entries; resending exactly those');
    await delay(wait, this.stopping.signal).catch(() => undefined);
  }

  private async onCallFailure(err: unknown): Promise<void> {
    const failure = classifyCallError(err);
    this.opts.metrics.inc('kinesis_call_failures_total', { code: failure.code });
    if (this.stopping.signal.aborted && isAbort(err)) return;
    const wait = failure.kind === 'operator' ? this.opts.retry.maxDelayMs : this.backoff.next();
    if (failure.kind === 'operator') {
      if (this.operatorFailure?.code !== failure.code) {
        this.opts.logger.error(
          { stream: this.opts.streamName, code: failure.code, err: failure.message, probeInMs: wait },
          `kinesis needs operator action: ${failure.action}; readings stay buffered until it is fixed`,
        );
      }
      this.operatorFailure = failure;
    } else {
      this.logRetry({ code: failure.code, err: failure.message, retryInMs: wait }, 'PutRecords failed; the whole call will be retried');
    }
    await delay(wait, this.stopping.signal).catch(() => undefined);
  }

  /** Warnings about retries at most every 10 s: an outage must not flood the log. */
  private logRetry(fields: object, message: string): void {
    const now = Date.now();
    if (now - this.lastRetryLog < 10_000) return;
    this.lastRetryLog = now;
    this.opts.logger.warn({ stream: this.opts.streamName, ...fields }, message);
  }

  private async deadLetterTooLarge(pending: Pending): Promise<void> {
    const record: StoredRecord = pending.record;
    await this.opts.queue.deadLetterRecord(
      record,
      'too_large',
      `record of ${entrySize(record)} bytes (data plus partition key) exceeds the record limit of ${this.limits.maxRecordBytes} bytes ` +
        `(the stream's maximum record size, bounded by kinesis.batch.maxBytes); it is never sent`,
      this.id,
    );
    pending.done = true;
    pending.deadLettered = true;
    this.opts.metrics.inc('readings_dead_lettered_total', { reason: 'too_large' });
  }

  /** Per-shard counters: Kinesis records, readings and bytes accepted by each shard. */
  private countShard(shardId: string, entry: OutEntry): void {
    const shard = shardId || UNKNOWN_SHARD;
    const m = this.opts.metrics;
    m.inc('kinesis_shard_records_total', { shard });
    m.inc('kinesis_shard_readings_total', { shard }, entry.members.length);
    m.inc('kinesis_shard_bytes_total', { shard }, entry.size);
    if (this.pacer && !this.shardsSeen.has(shard)) {
      this.shardsSeen.add(shard);
      const pacer = this.pacer;
      m.gauge(`kinesis_shard_pacing_share{shard="${shard}"}`, () => pacer.snapshot().find((s) => s.shardId === shard)?.factor ?? 1);
    }
  }

  /**
   * Reads the shard map (ListShards) in the background: at start, periodically, and when replies show a
   * reshard. Until it is known, pacing treats the stream as one shard. Failures keep the old map.
   */
  private refreshShards(why: string): void {
    if (!this.pacer || this.shardRead) return;
    const now = performance.now();
    if (now - this.shardsReadAt < MIN_SHARD_REFRESH_MS) return;
    this.shardsReadAt = now;
    const pacer = this.pacer;
    this.shardRead = this.opts.port
      .listShards(this.opts.streamName, AbortSignal.any([this.stopping.signal, AbortSignal.timeout(STREAM_READ_TIMEOUT_MS)]))
      .then((shards) => {
        const map = new ShardMap(shards);
        if (map.size === 0) throw new Error('ListShards returned no open shard');
        const before = this.shardMap?.shardIds.join(',');
        this.shardMap = map;
        pacer.setMap(map);
        if (before !== map.shardIds.join(',')) this.opts.logger.info({ stream: this.opts.streamName, shards: map.shardIds, why }, 'shard map read; pacing each shard');
      })
      .catch((err: unknown) => {
        if (this.stopping.signal.aborted) return;
        this.opts.logger.warn({ stream: this.opts.streamName, err: describeError(err), why }, 'could not read the shard map (ListShards); pacing as before');
      })
      .finally(() => {
        this.shardRead = null;
      });
  }

  /** DescribeStreamSummary's MaxRecordSizeInKiB (streams can be raised to 10 MiB); 1 MiB when unknown. */
  private async learnRecordLimit(): Promise<void> {
    try {
      const d = await this.opts.port.describeStream(this.opts.streamName, AbortSignal.timeout(STREAM_READ_TIMEOUT_MS));
      if (d.maxRecordBytes !== null) {
        this.limits.maxRecordBytes = Math.min(d.maxRecordBytes, this.limits.maxBytes);
        this.opts.logger.info({ stream: this.opts.streamName, maxRecordBytes: this.limits.maxRecordBytes }, 'stream record limit read');
      }
    } catch (err) {
      this.opts.logger.warn(
        { stream: this.opts.streamName, err: describeError(err), maxRecordBytes: this.limits.maxRecordBytes },
        'could not read the stream summary (DescribeStreamSummary); assuming the default record limit',
      );
    }
  }

  /**
   * Drops the delivered prefix of the window and commits the cursor through it. Cursor writes run in the
   * background, one after another, so the next call does not wait for them; stop() waits for the last.
   */
  private commitProgress(): void {
    for (const reader of this.readers()) {
      const handled = reader.takeHandled();
      if (!handled) continue;
      const { through, delivered, deadLettered } = handled;
      const queue = this.opts.queue;
      this.cursorWrites = this.cursorWrites
        .then(() =>
          through === null
            ? queue.removeHandled(reader.lane, { delivered, deadLettered })
            : queue.commitCursor(this.id, reader.lane, through, { delivered, deadLettered }),
        )
        .catch((err: unknown) => this.opts.logger.error({ err: describeError(err) }, 'could not persist the delivery cursor; delivered readings may be sent again after a restart'));
    }
  }

}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'AbortError' || isTidegateError(err, 'ERR_ABORTED');
}

/** FNV-1a: a cheap, stable split of partition keys among the calls in flight. */
function splitOf(key: string, splits: number): number {
  if (splits === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % splits;
}
