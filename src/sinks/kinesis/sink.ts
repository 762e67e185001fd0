import { cancellableWait, delay } from '../../core/abort.js';
import { Backoff } from '../../core/backoff.js';
import { describeError, isTidegateError } from '../../core/errors.js';
import type { Component, HealthReport } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Metrics } from '../../core/metrics.js';
import type { DurableQueue, Lane, StoredRecord } from '../../queue/types.js';
import { entrySize } from './batcher.js';
import { classifyCallError } from './classify.js';
import { Destination, type DeliveryState, type DestinationOptions } from './destination.js';
import type { BatchLimits } from './limits.js';
import { planCall, type Aggregation, type OutEntry } from './plan-call.js';
import type { KinesisPort, PutEntryResult } from './port.js';
import { LaneReader, TelemetryReaders, type Pending } from './readers.js';
import { shardNamedIn, UNKNOWN_SHARD, type ShardPacer } from './shard-pacer.js';

/** A routing rule: readings it matches go to its destination instead of the default stream (first match wins). */
export interface SinkRoute {
  match: (record: StoredRecord) => boolean;
  destination: Omit<DestinationOptions, 'retry'>;
}

export interface KinesisSinkOptions {
  id: string;
  streamName: string;
  limits: BatchLimits;
  /** How long a partly filled batch waits for more readings when the sink was idle. */
  maxAgeMs: number;
  retry: { baseDelayMs: number; maxDelayMs: number; probeIntervalMs?: number | undefined };
  requestTimeoutMs: number;
  /**
   * Calls in flight at once per destination. Records are split among them by a hash of their partition key,
   * and each split has at most one call in flight, so one device's readings never race each other.
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
  /** Other destinations, by rule; readings no rule matches go to `streamName`. */
  routes?: readonly SinkRoute[];
  logger: Logger;
  metrics: Metrics;
}

// Behind by more than ten full calls, new readings take a live reader that goes ahead of the backlog.
const LIVE_AFTER_CALLS = 10;

/**
 * Forwards the queue to Kinesis: reads past its cursor, routes each reading to its destination (the default
 * stream, or another stream or a Firehose delivery stream by rule), fills calls within each destination's
 * limits and per-shard pacing, resends exactly the entries that came back with an ErrorCode (after a jittered
 * backoff), and commits the cursor through the highest contiguous delivered sequence, which lets the queue
 * remove those records. Nothing leaves the disk before it was accepted.
 */
export class KinesisSink implements Component {
  readonly id: string;
  /** Read but not yet committed records: alarms, then telemetry (a live reader and the backlog). */
  private alarms!: LaneReader;
  private telemetry!: TelemetryReaders;
  private readonly stopping = new AbortController();
  private readonly callAborts = new Set<AbortController>();
  /** Calls in flight, by split (destination × partition-key hash). */
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly concurrency: number;
  private loop: Promise<void> | null = null;
  /** Handled records not yet written to the queue, per reader, merged while a write is under way. */
  private readonly unwritten = new Map<LaneReader, { through: number | null; delivered: StoredRecord[]; deadLettered: StoredRecord[] }>();
  private writer: Promise<void> | null = null;
  /** For failures to read the buffer. */
  private readonly readBackoff: Backoff;
  // Bounded read-ahead: one head-of-line record that keeps failing cannot pull the whole backlog into memory.
  private readonly maxWindow: number;
  private readonly destinations: Destination[];
  private readonly routes: ReadonlyArray<SinkRoute['match']>;
  /** Which destination each record goes to, decided once per record. */
  private readonly routed = new WeakMap<Pending, number>();

  constructor(private readonly opts: KinesisSinkOptions) {
    this.id = opts.id;
    this.readBackoff = new Backoff({ baseMs: opts.retry.baseDelayMs, maxMs: opts.retry.maxDelayMs });
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    // At 0 from the start, like the admission's reasons (a series must not appear only on its first increment).
    opts.metrics.counter('readings_dead_lettered_total', { reason: 'too_large' });
    const log = opts.logger;
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
      log,
      opts.metrics,
    );
    const routes = opts.routes ?? [];
    this.destinations = [main, ...routes.map((r, i) => new Destination(i + 1, { ...r.destination, retry: opts.retry }, log, opts.metrics))];
    this.routes = routes.map((r) => r.match);
    // Read-ahead for every split in flight plus the next call of each; aggregation packs many readings into
    // one entry, so it reads further ahead (still bounded).
    const aggregating = this.destinations.some((d) => d.opts.aggregation.mode === 'kpl');
    const perCall = aggregating ? opts.limits.maxRecords * 8 : opts.limits.maxRecords;
    this.maxWindow = perCall * 2 * (this.concurrency + 1);
  }

  /** The default stream's record limit in use: its maximum record size once read, bounded by the call size. */
  get maxRecordBytes(): number {
    return this.destinations[0]!.limits.maxRecordBytes;
  }

  /** The default stream's shard map, when pacing has read it. */
  get shards(): readonly string[] {
    return this.destinations[0]!.shards;
  }

  async start(): Promise<void> {
    for (const d of this.destinations) await d.start(this.stopping.signal);
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
      while (this.writer) await this.writer;
    } finally {
      deadline.removeEventListener('abort', cut);
    }
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

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.cycle();
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        // Only the queue can throw here (the ports' failures are handled in send); retry after a pause.
        this.opts.logger.error({ err: describeError(err) }, 'kinesis sink could not read the buffer; retrying');
        await delay(this.readBackoff.next(), this.stopping.signal).catch(() => undefined);
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
    for (const d of this.destinations) d.maybeRefreshShards(this.stopping.signal);
    let pacedForMs: number | null = null;
    const waiting = this.waitingBySplit();
    for (const [split, candidates] of waiting) {
      if (this.inflight.has(split)) continue;
      const destination = this.destinations[Math.floor(split / this.concurrency)]!;
      const plan = planCall(candidates, destination.limits, destination.opts.aggregation, destination.pacer);
      for (const p of plan.tooLarge) await this.deadLetterTooLarge(p, destination);
      if (plan.pacedForMs !== null) pacedForMs = pacedForMs === null ? plan.pacedForMs : Math.min(pacedForMs, plan.pacedForMs);
      if (plan.entries.length === 0) continue;
      const sending = plan.entries.flatMap((e) => e.members);
      for (const p of sending) p.sending = true;
      const call = this.send(destination, plan.entries).finally(() => {
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
    // One wait per paced cycle, released as soon as a call returns (no combined signal per cycle: issue 15).
    const pause = pacedForMs === null ? null : cancellableWait(Math.min(1_000, Math.max(2, Math.ceil(pacedForMs))), this.stopping.signal);
    if (pause) waits.push(pause.promise);
    if (waits.length > 0) await Promise.race(waits);
    pause?.cancel();
    const failure = await readFailure;
    if (failure) throw failure;
    this.commitProgress();
  }

  /**
   * Records waiting for a call, grouped by split (destination, then a hash of the partition key), each group
   * in boarding order: alarms first, then live readings, then the backlog.
   */
  private waitingBySplit(): Map<number, Pending[]> {
    const out = new Map<number, Pending[]>();
    for (const reader of this.readers()) {
      for (const p of reader.window) {
        if (p.done || p.sending) continue;
        const split = this.destinationOf(p) * this.concurrency + splitOf(p.record.partitionKey, this.concurrency);
        (out.get(split) ?? out.set(split, []).get(split)!).push(p);
      }
    }
    return out;
  }

  private destinationOf(p: Pending): number {
    if (this.routes.length === 0) return 0;
    let d = this.routed.get(p);
    if (d === undefined) {
      const i = this.routes.findIndex((match) => match(p.record));
      d = i + 1;
      this.routed.set(p, d);
    }
    return d;
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

  private async send(destination: Destination, entries: OutEntry[]): Promise<void> {
    const { logger } = this.opts;
    const call = new AbortController();
    this.callAborts.add(call);
    const timer = setTimeout(() => call.abort(), this.opts.requestTimeoutMs);
    let results: PutEntryResult[];
    const started = performance.now();
    const startedAt = Date.now();
    try {
      destination.count('calls_total');
      results = await destination.opts.port.putRecords(
        destination.name,
        entries.map((e) => ({ partitionKey: e.partitionKey, data: e.data })),
        call.signal,
      );
    } catch (err) {
      this.opts.onCall?.((performance.now() - started) / 1000, 'failed');
      await this.onCallFailure(destination, err, startedAt);
      return;
    } finally {
      clearTimeout(timer);
      this.callAborts.delete(call);
    }

    if (destination.operatorFailure) {
      logger.info(destination.where, `${destination.opts.kind} accepts records again after ${destination.operatorFailure.code}`);
      destination.operatorFailure = null;
    }
    let failed = 0;
    let delivered = 0;
    let firstError = '';
    const throttled = new Set<string>();
    // Per shard, what this call landed there: counted once per call, not per record.
    const accepted = new Map<string, { records: number; readings: number; bytes: number }>();
    let reshardSigns = 0;
    results.forEach((result, i) => {
      const entry = entries[i]!;
      if (result.ok) {
        for (const p of entry.members) p.done = true;
        delivered += entry.members.length;
        const shard = result.shardId || UNKNOWN_SHARD;
        const landed = accepted.get(shard) ?? accepted.set(shard, { records: 0, readings: 0, bytes: 0 }).get(shard)!;
        landed.records += 1;
        landed.readings += entry.members.length;
        landed.bytes += entry.size;
        // A record landing elsewhere than the map said: the stream was resharded.
        if (destination.hasShardMap && entry.shardId !== null && result.shardId && entry.shardId !== result.shardId) reshardSigns += 1;
      } else {
        failed += 1;
        firstError ||= `${result.errorCode}: ${result.errorMessage}`;
        destination.count('entry_failures_total', { code: result.errorCode });
        if (result.errorCode === 'ProvisionedThroughputExceededException') {
          const shard = shardNamedIn(result.errorMessage) ?? entry.shardId ?? UNKNOWN_SHARD;
          throttled.add(shard);
          destination.count('shard_throttles_total', { shard });
          if (shard !== UNKNOWN_SHARD && !destination.knowsShard(shard)) reshardSigns += 1;
        }
      }
    });
    if (delivered > 0) destination.noteDelivered();
    else if (failed > 0) destination.noteFailed(startedAt, firstError.slice(0, firstError.indexOf(':')), firstError);
    for (const [shard, landed] of accepted) destination.countShard(shard, landed.records, landed.readings, landed.bytes);
    const pacer = destination.pacer;
    if (pacer) {
      for (const shard of throttled) pacer.onThrottled(shard);
      for (const shard of accepted.keys()) if (!throttled.has(shard)) pacer.onAccepted(shard);
      if (reshardSigns > 0) destination.refreshShards('records went to shards the map does not know', this.stopping.signal);
    }
    this.opts.onCall?.((performance.now() - started) / 1000, failed === 0 ? 'ok' : 'partial');
    this.opts.metrics.inc('readings_delivered_total', undefined, delivered);
    destination.count('records_total', undefined, entries.length - failed);
    this.telemetry.maybeGoLive(this.opts.queue.head('telemetry'));
    if (failed === 0) {
      destination.backoff.reset();
      return;
    }
    // Partial failure (HTTP 200 with ErrorCodes): only those entries go again, in the next call. When pacing
    // knows the throttled shards, it holds them back itself; the backoff then covers only other errors.
    const onlyThrottles = results.every((r) => r.ok || r.errorCode === 'ProvisionedThroughputExceededException');
    const wait = pacer !== null && onlyThrottles ? 0 : destination.backoff.next();
    this.logRetry(destination, { failed, of: entries.length, first: firstError, retryInMs: wait }, `${destination.opts.kind} refused some entries; resending exactly those`);
    await delay(wait, this.stopping.signal).catch(() => undefined);
  }

  private async onCallFailure(destination: Destination, err: unknown, startedAt: number): Promise<void> {
    const failure = classifyCallError(err, destination.opts.kind);
    destination.count('call_failures_total', { code: failure.code });
    if (this.stopping.signal.aborted && isAbort(err)) return;
    destination.noteFailed(startedAt, failure.code, failure.message, err);
    const wait = failure.kind === 'operator' ? this.opts.retry.maxDelayMs : destination.backoff.next();
    if (failure.kind === 'operator') {
      if (destination.operatorFailure?.code !== failure.code) {
        this.opts.logger.error(
          { ...destination.where, code: failure.code, err: failure.message, probeInMs: wait },
          `${destination.opts.kind} needs operator action: ${failure.action}; readings stay buffered until it is fixed`,
        );
      }
      destination.operatorFailure = failure;
    } else {
      this.logRetry(destination, { code: failure.code, err: failure.message, retryInMs: wait }, `${destination.opts.kind} call failed; the whole call will be retried`);
    }
    await destination.waitToRetry(wait, this.stopping.signal);
  }

  /** Warnings about retries at most every 10 s per destination: an outage must not flood the log. */
  private logRetry(destination: Destination, fields: object, message: string): void {
    const now = Date.now();
    if (now - destination.lastRetryLog < 10_000) return;
    destination.lastRetryLog = now;
    this.opts.logger.warn({ ...destination.where, ...fields }, message);
  }

  private async deadLetterTooLarge(pending: Pending, destination: Destination): Promise<void> {
    const record: StoredRecord = pending.record;
    await this.opts.queue.deadLetterRecord(
      record,
      'too_large',
      `record of ${entrySize(record)} bytes (data plus partition key) exceeds the record limit of ${destination.limits.maxRecordBytes} bytes ` +
        `of ${destination.id} (its maximum record size, bounded by the call size); it is never sent`,
      this.id,
    );
    pending.done = true;
    pending.deadLettered = true;
    this.opts.metrics.inc('readings_dead_lettered_total', { reason: 'too_large' });
  }

  /**
   * Drops the delivered prefix of the window and commits the cursor through it. The writes run in the
   * background, one at a time, so the next call does not wait for them; what is handled while one is under
   * way is merged into the next (one write however many calls returned meanwhile, so the writes never fall
   * behind the calls). stop() waits for the last.
   */
  private commitProgress(): void {
    for (const reader of this.readers()) {
      const handled = reader.takeHandled();
      if (!handled) continue;
      const pending = this.unwritten.get(reader);
      if (!pending) this.unwritten.set(reader, handled);
      else {
        if (handled.through !== null) pending.through = handled.through;
        pending.delivered.push(...handled.delivered);
        pending.deadLettered.push(...handled.deadLettered);
      }
    }
    if (this.unwritten.size > 0 && !this.writer) {
      this.writer = this.writeHandled().finally(() => {
        this.writer = null;
        // Handled while the last write finished: written now rather than at the next call's return.
        if (this.unwritten.size > 0) this.commitProgress();
      });
    }
  }

  private async writeHandled(): Promise<void> {
    const queue = this.opts.queue;
    while (this.unwritten.size > 0) {
      const batch = [...this.unwritten];
      this.unwritten.clear();
      for (const [reader, { through, delivered, deadLettered }] of batch) {
        try {
          if (through === null) await queue.removeHandled(reader.lane, { delivered, deadLettered });
          else await queue.commitCursor(this.id, reader.lane, through, { delivered, deadLettered });
        } catch (err) {
          this.opts.logger.error({ err: describeError(err) }, 'could not persist the delivery cursor; delivered readings may be sent again after a restart');
        }
      }
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
