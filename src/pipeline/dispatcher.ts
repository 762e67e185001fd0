import { cancellableWait, delay } from '../core/abort.js';
import { Backoff } from '../core/backoff.js';
import { describeError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import type { DurableBuffer, Lane, StoredRecord } from '../buffer/types.js';
import { LaneReader, TelemetryReaders } from './lane-readers.js';
import type { Pending, SendOutcome, Sink, SinkCall } from './sink.js';

export interface DispatcherOptions {
  /** The cursor's name in the buffer: the buffer deletes a record once every dispatcher's cursor passed it. */
  id: string;
  buffer: DurableBuffer;
  /** Where records go; the first is the default. */
  sinks: readonly Sink[];
  /** The index in `sinks` a record goes to (a router in front of the sinks); absent: all to the first. */
  route?: (record: StoredRecord) => number;
  /**
   * Calls in flight at once per sink. Records are split among them by a hash of their partition key, and
   * each split has at most one call in flight, so one device's readings never race each other.
   */
  concurrency?: number;
  /** How long a partly filled call waits for more records: until its oldest member is this old (ms). */
  maxAgeMs: number;
  /** For failures to read the buffer. */
  readRetry: { baseDelayMs: number; maxDelayMs: number };
  logger: Logger;
  metrics: Metrics;
}

// Each call's weight in the moving average of its sink's call time: a few calls' change of pace moves it.
const CALL_MS_WEIGHT = 0.2;

// Behind by more than ten full calls, new readings take a live reader that goes ahead of the backlog.
const LIVE_AFTER_CALLS = 10;

/**
 * The one generic dispatcher between the buffer and the sinks: reads past its cursor (alarms first, then live
 * readings ahead of a backlog), routes each record to its sink, keeps one call in flight per split, applies
 * each record's outcome, dead-letters what a sink rejects, and commits the cursor through the highest
 * contiguous handled sequence, which lets the buffer remove those records. Nothing leaves the disk before a
 * sink accepted it. The Sink contract is in ./sink.ts.
 */
export class Dispatcher implements Component {
  readonly id: string;
  /** Read but not yet committed records: alarms, then telemetry (a live reader and the backlog). */
  private alarms!: LaneReader;
  private telemetry!: TelemetryReaders;
  private readonly stopping = new AbortController();
  private readonly callAborts = new Set<AbortController>();
  /** Calls in flight, by split (sink × partition-key hash). */
  private readonly inflight = new Map<number, Promise<void>>();
  /** Per sink, a moving average of how long its calls took (ms), for Sink.quickCallMs. */
  private readonly callMs: number[];
  private readonly concurrency: number;
  private loop: Promise<void> | null = null;
  /** Handled records not yet written to the buffer, per reader, merged while a write is under way. */
  private readonly unwritten = new Map<LaneReader, { through: number | null; delivered: StoredRecord[]; deadLettered: StoredRecord[] }>();
  private writer: Promise<void> | null = null;
  /** A record was handled since the windows were last looked through for handled ones (commitProgress). */
  private handledSinceTake = false;
  private readonly readBackoff: Backoff;
  // Bounded read-ahead: one head-of-line record that keeps failing cannot pull the whole backlog into memory.
  private readonly maxWindow: number;
  /** A full call of the default sink: a reader fills only with room for that many, and lingers for that many. */
  private readonly minCall: number;

  constructor(private readonly opts: DispatcherOptions) {
    if (opts.sinks.length === 0) throw new RangeError('a dispatcher needs at least one sink');
    this.id = opts.id;
    this.readBackoff = new Backoff({ baseMs: opts.readRetry.baseDelayMs, maxMs: opts.readRetry.maxDelayMs });
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    // Read-ahead for every split in flight plus the next call of each.
    const perCall = Math.max(...opts.sinks.map((s) => s.recordsPerCall));
    this.maxWindow = perCall * 2 * (this.concurrency + 1);
    this.minCall = opts.sinks[0]!.maxEntriesPerCall;
    this.callMs = opts.sinks.map(() => 0);
  }

  async start(): Promise<void> {
    for (const sink of this.opts.sinks) await sink.start(this.stopping.signal);
    this.alarms = new LaneReader('alarm', this.opts.buffer.cursor(this.id, 'alarm'), false);
    this.telemetry = new TelemetryReaders(this.opts.buffer.cursor(this.id, 'telemetry'), this.minCall * LIVE_AFTER_CALLS, this.opts.logger);
    this.loop = this.run();
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    // The calls in flight may finish (and their successes be committed) until the deadline; then they are cut.
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

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.cycle();
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        // Only the buffer can throw here (sinks report failures as outcomes); retry after a pause.
        this.opts.logger.error({ err: describeError(err) }, 'could not read the buffer; retrying');
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
      if (!this.hasUndelivered()) await this.waitForRecords();
      return;
    }
    // Alarms are read right before planning, so they board the very next call (an empty lane costs no read);
    // telemetry is read ahead while calls are in flight, so the next calls are ready when they return.
    await this.alarms.fill(this.opts.buffer, this.maxWindow, 1);
    for (const sink of this.opts.sinks) sink.tick?.(this.stopping.signal);
    let pausedForMs: number | null = null;
    const now = performance.now();
    for (const { sinkIndex, split, candidates } of this.waitingCalls()) {
      const holdMs = this.holdPartialCall(candidates, now);
      if (holdMs > 0) {
        pausedForMs = sooner(pausedForMs, holdMs);
        continue;
      }
      const sink = this.opts.sinks[sinkIndex]!;
      const plan = sink.plan(candidates);
      for (const r of plan.rejected) await this.deadLetter(r.pending, r.reason, r.message);
      if (plan.pausedForMs !== null) pausedForMs = sooner(pausedForMs, plan.pausedForMs);
      if (plan.call === null || plan.call.members.length === 0) continue;
      // Planned from several splits, the call holds in flight those it carries records of.
      const carried = split !== null ? [split] : splitsOf(plan.call.members);
      const call = this.dispatch(sinkIndex, plan.call, carried);
      for (const split of carried) this.inflight.set(split, call);
    }
    // Settled into a value so a failed read (the store reopening) is handled here, not left unobserved.
    const readFailure = this.telemetry.fill(this.opts.buffer, this.maxWindow, this.minCall).then(
      () => null,
      (err: unknown) => err,
    );
    // Waits for a call to return, or, when pacing held records back, for their sink to have room again.
    const waits: Promise<unknown>[] = [...this.inflight.values()];
    // One wait per paced cycle, released as soon as a call returns (no combined signal per cycle: issue 15).
    const pause = pausedForMs === null ? null : cancellableWait(Math.min(1_000, Math.max(2, Math.ceil(pausedForMs))), this.stopping.signal);
    if (pause) waits.push(pause.promise);
    if (waits.length > 0) await Promise.race(waits);
    pause?.cancel();
    const failure = await readFailure;
    if (failure) throw failure;
    this.commitProgress();
  }

  /**
   * How long a split's partly filled call should wait for more records: until its oldest member has waited
   * maxAgeMs since it was read. Not only after the dispatcher was idle: at a steady moderate rate a call
   * returns to a handful of new records every time, and sending each handful costs a signed request, a
   * round trip and a cursor commit per few readings (issue: Pi-class efficiency; at 1,000 readings/s this
   * was most of the sink's CPU). A full call, an alarm, a record that already waited that long (a retry) or a
   * stopping dispatcher goes at once.
   */
  private holdPartialCall(candidates: readonly Pending[], now: number): number {
    const maxAgeMs = this.opts.maxAgeMs;
    if (maxAgeMs === 0 || candidates.length >= this.minCall || this.stopping.signal.aborted) return 0;
    let oldest = now;
    for (const p of candidates) {
      if (p.record.lane === 'alarm') return 0;
      if (p.readAt !== undefined && p.readAt < oldest) oldest = p.readAt;
    }
    return Math.max(0, oldest + maxAgeMs - now);
  }

  /** One call of one or more splits: sends it, then applies each member's outcome. */
  private async dispatch(sinkIndex: number, call: SinkCall, splits: readonly number[]): Promise<void> {
    const sink = this.opts.sinks[sinkIndex]!;
    const members = call.members;
    const startedAt = performance.now();
    for (const p of members) p.sending = true;
    const cut = new AbortController();
    this.callAborts.add(cut);
    try {
      const outcomes = await sink.send(call, cut.signal, this.stopping.signal);
      // Before the outcomes: applying them may write to the buffer, which is not the call's time.
      this.callMs[sinkIndex] = this.callMs[sinkIndex]! + CALL_MS_WEIGHT * (performance.now() - startedAt - this.callMs[sinkIndex]!);
      await this.apply(members, outcomes);
    } catch (err) {
      // A sink breaking its contract (send must not reject): the records stay and board a later call.
      this.opts.logger.error({ sink: sink.id, err: describeError(err) }, 'a sink failed a call unexpectedly; its records stay buffered and go again');
      await delay(this.readBackoff.next(), this.stopping.signal).catch(() => undefined);
    } finally {
      this.callAborts.delete(cut);
      for (const p of members) p.sending = false;
      for (const split of splits) this.inflight.delete(split);
    }
  }

  private async apply(members: readonly Pending[], outcomes: readonly SendOutcome[]): Promise<void> {
    let delivered = 0;
    for (let i = 0; i < members.length; i++) {
      const outcome = outcomes[i] ?? 'retry';
      const p = members[i]!;
      if (outcome === 'delivered') {
        p.done = true;
        delivered += 1;
      } else if (outcome !== 'retry') await this.deadLetter(p, outcome.rejected.reason, outcome.rejected.message);
    }
    if (delivered === 0) return;
    this.handledSinceTake = true;
    this.opts.metrics.inc('readings_delivered_total', undefined, delivered);
    // Far behind after an outage: new readings from now on go first (see TelemetryReaders).
    this.telemetry.maybeGoLive(this.opts.buffer.head('telemetry'));
  }

  private async deadLetter(pending: Pending, reason: string, message: string): Promise<void> {
    await this.opts.buffer.deadLetterRecord(pending.record, reason, message, this.id);
    pending.done = true;
    pending.deadLettered = true;
    this.handledSinceTake = true;
    this.opts.metrics.inc('readings_dead_lettered_total', { reason });
  }

  /**
   * Records waiting for a call, grouped into the calls that may be planned now, each in boarding order
   * (alarms first, then live readings, then the backlog): one per split (sink, then a hash of the partition
   * key) with no call in flight. The free splits of a sink whose splits draw on one allowance are one call
   * together while its calls are quick (Sink.quickCallMs). A call holds in flight the splits it carries
   * records of, so a device's readings never race either way.
   */
  private waitingCalls(): WaitingCall[] {
    const together = this.opts.sinks.map((s, i) => s.quickCallMs !== undefined && this.callMs[i]! < s.quickCallMs);
    // This runs for every record of the window on every cycle (24,000 in a KPL drain): the splits in flight
    // are an array here, and consecutive records of one call skip the map.
    const busy: boolean[] = [];
    for (const split of this.inflight.keys()) busy[split] = true;
    const calls = new Map<number, WaitingCall>();
    let lastKey = NaN;
    let last: WaitingCall | undefined;
    for (const reader of this.readers()) {
      for (const p of reader.window) {
        if (p.done || p.sending) continue;
        const split = this.splitOf(p);
        if (busy[split] === true) continue;
        const sinkIndex = Math.floor(split / this.concurrency);
        const key = together[sinkIndex] ? -1 - sinkIndex : split;
        if (key !== lastKey) {
          lastKey = key;
          last = calls.get(key);
          if (!last) calls.set(key, (last = { sinkIndex, split: key === split ? split : null, candidates: [] }));
        }
        last!.candidates.push(p);
      }
    }
    return [...calls.values()];
  }

  /** Which split a record goes to, decided once per record: its sink (the router), then a hash of its key. */
  private splitOf(p: Pending): number {
    const known = p.split;
    if (known !== undefined && known >= 0) return known;
    const sink = this.opts.route ? this.opts.route(p.record) : 0;
    const split = sink * this.concurrency + keySplit(p.record.partitionKey, this.concurrency);
    p.split = split;
    return split;
  }

  private async fill(): Promise<void> {
    await this.alarms.fill(this.opts.buffer, this.maxWindow, this.minCall);
    await this.telemetry.fill(this.opts.buffer, this.maxWindow, this.minCall);
  }

  /** Where each lane's newest reader stands: waiting for records means records past these. */
  private positions(): Record<Lane, number> {
    return { alarm: this.alarms.readSeq, telemetry: (this.telemetry.live ?? this.telemetry.backlog).readSeq };
  }

  /** Idle: wait for new records (a partly filled call then waits in the cycle, by holdPartialCall). */
  private async waitForRecords(): Promise<void> {
    await this.opts.buffer.waitForRecords(this.positions(), this.stopping.signal).catch(() => undefined);
  }

  /**
   * Drops the handled prefix of each window and commits the cursor through it. The writes run in the
   * background, one at a time, so the next call does not wait for them; what is handled while one is under
   * way is merged into the next (one write however many calls returned meanwhile, so the writes never fall
   * behind the calls). stop() waits for the last.
   */
  private commitProgress(): void {
    // About half the cycles of a paced drain end with nothing handled (a wait for allowance ran out, not a
    // call): the window, 24,000 records in a KPL drain, is not looked through then (issue "Pi-class efficiency").
    if (this.handledSinceTake) {
      this.handledSinceTake = false;
      for (const reader of this.readers()) this.takeHandled(reader);
    }
    if (this.unwritten.size > 0 && !this.writer) {
      this.writer = this.writeHandled().finally(() => {
        this.writer = null;
        // Handled while the last write finished: written now rather than at the next call's return.
        if (this.unwritten.size > 0) this.commitProgress();
      });
    }
  }

  private takeHandled(reader: LaneReader): void {
    const handled = reader.takeHandled();
    if (!handled) return;
    const pending = this.unwritten.get(reader);
    if (!pending) this.unwritten.set(reader, handled);
    else {
      if (handled.through !== null) pending.through = handled.through;
      pending.delivered.push(...handled.delivered);
      pending.deadLettered.push(...handled.deadLettered);
    }
  }

  private async writeHandled(): Promise<void> {
    const buffer = this.opts.buffer;
    while (this.unwritten.size > 0) {
      const batch = [...this.unwritten];
      this.unwritten.clear();
      for (const [reader, { through, delivered, deadLettered }] of batch) {
        try {
          if (through === null) await buffer.removeHandled(reader.lane, { delivered, deadLettered });
          else await buffer.commitCursor(this.id, reader.lane, through, { delivered, deadLettered });
        } catch (err) {
          this.opts.logger.error({ err: describeError(err) }, 'could not persist the delivery cursor; delivered readings may be sent again after a restart');
        }
      }
    }
  }
}

/** The records one call may be planned from: one split's, or (split null) those of a sink's free splits. */
interface WaitingCall {
  sinkIndex: number;
  split: number | null;
  candidates: Pending[];
}

/** The distinct splits of a call's members (each member's split was decided when it was grouped). */
function splitsOf(members: readonly Pending[]): number[] {
  const splits: number[] = [];
  for (const p of members) if (!splits.includes(p.split!)) splits.push(p.split!);
  return splits;
}

/** The shorter of two waits, where null is none yet. */
const sooner = (a: number | null, b: number): number => (a === null ? b : Math.min(a, b));

/** FNV-1a: a cheap, stable split of partition keys among the calls in flight. */
function keySplit(key: string, splits: number): number {
  if (splits === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % splits;
}
