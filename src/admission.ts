import { systemClock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import type { Counter, Metrics } from './core/metrics.js';
import { RateLimitedLog } from './core/rate-limited-log.js';
import { decodeMessage, type DecodeOptions } from './normalize/decode.js';
import { REJECT_REASONS, type RawMessage, type Reading, type Rejection } from './normalize/reading.js';
import type { AppendOutcome, DeadLetter, DurableBuffer, PendingReading, ReplacedDeadLetters, StateWrite } from './buffer/types.js';
import { describeError } from './core/errors.js';
import { abortError } from './core/abort.js';
import { TransformChain, type ChainDeadLetter, type ChainOutcome } from './pipeline/transform-chain.js';
import { replacedBy, type ReplayItem } from './buffer/dead-letters.js';
import type { ProducedRecord, Transform } from './pipeline/transform.js';
import type { DeviceActivity } from './telemetry/device-activity.js';

/** A batch gathered from single admissions goes in at this size without waiting for the end of the turn. */
const MAX_GATHERED = 512;

/**
 * The one way into the buffer for every source: decode, validate, append. `admit` resolves only after the
 * reading (or its dead letter) is durably committed, so a source acknowledges only what is on disk.
 * Invalid messages are dead-lettered and still acknowledged: a poison message must not loop forever.
 * Decoded readings go through the transform chain first; what it filters or consumes is counted in the
 * same commit as what it lets through, so an acknowledged batch is always fully accounted for.
 */
export class Admission {
  private readonly warnings: RateLimitedLog;
  private readonly received = new Map<string, Counter>();
  private readonly buffered: Counter;
  /** Stateful chains: the turn of the batch whose writes are the next to join a commit. */
  private turn: Promise<void> = Promise.resolve();
  /** A submitted append failed: the next turn re-reads the state from the disk before it runs. */
  private stateSuspect = false;
  /** Messages admitted one by one in this turn of the event loop, by decode options, waiting to go in as one batch. */
  private readonly gathering = new Map<DecodeOptions, Gathered>();
  private gatherTimer: NodeJS.Immediate | null = null;
  /** Told of the records transforms produced once their commit resolved (the local alarm notification). */
  private readonly commitObservers: Array<(records: readonly PendingReading[]) => void> = [];

  constructor(
    private readonly buffer: DurableBuffer,
    private readonly decode: DecodeOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly activity?: DeviceActivity,
    private readonly chain: TransformChain = new TransformChain([], { clock: systemClock, logger, metrics }),
  ) {
    this.warnings = new RateLimitedLog(logger);
    this.buffered = metrics.counter('readings_buffered_total');
    // Every series a dashboard or alert rule may look for exists from the start at 0: a series that appears
    // only with its first increment (after each restart) cannot be told apart from one that is not collected.
    for (const reason of REJECT_REASONS) metrics.counter('readings_dead_lettered_total', { reason });
    metrics.counter('readings_dropped_total', { reason: 'buffer_full' });
  }

  /** Logs what the rate-limited warnings held back; called once the sources have stopped. */
  flushWarnings(): void {
    this.warnings.flush();
  }

  private countReceived(source: string): void {
    let counter = this.received.get(source);
    if (!counter) this.received.set(source, (counter = this.metrics.counter('readings_received_total', { source })));
    counter.inc();
  }

  /**
   * Decodes one MQTT-style message (device id from the topic, JSON payload) and appends it. `decode` overrides
   * the gateway's topic template and size limit for sources that have their own (a site broker's topics).
   */
  admit(raw: RawMessage, decode: DecodeOptions = this.decode): Promise<void> {
    return new Promise<void>((resolve, reject) => this.admitThen(raw, (err) => (err === null ? resolve() : reject(err)), decode));
  }

  /**
   * `admit` with a callback: `done(null)` once the message is durable (or dead-lettered), `done(err)` when
   * it was not stored. The embedded broker's way in: a promise chain per reading was a measurable share of
   * its allocations (issue: Pi-class efficiency).
   */
  admitThen(raw: RawMessage, done: AdmitCallback, decode: DecodeOptions = this.decode): void {
    let group = this.gathering.get(decode);
    if (!group) this.gathering.set(decode, (group = { raws: [], dones: [] }));
    group.raws.push(raw);
    group.dones.push(done);
    if (group.raws.length >= MAX_GATHERED) this.admitGathered(decode);
    else this.gatherTimer ??= setImmediate(() => this.admitGatheredAll());
  }

  /**
   * Messages admitted one by one within one turn of the event loop go in as one batch: aedes hands over
   * every PUBLISH of a socket read at once, and a reading's way in (decode aside) costs per batch, not per
   * reading: the transform chain's run, the append's objects, its place in the group commit and its promise.
   * Each message still resolves only once its batch is durable, and a failed append fails the whole batch
   * (none of it is acknowledged, as before for each). setImmediate runs after the I/O callbacks of the turn,
   * so it also gathers the reads of several connections; the latency it adds is that one turn.
   */
  private admitGatheredAll(): void {
    this.gatherTimer = null;
    for (const decode of [...this.gathering.keys()]) this.admitGathered(decode);
  }

  private admitGathered(decode: DecodeOptions): void {
    const group = this.gathering.get(decode);
    if (!group || group.raws.length === 0) return;
    this.gathering.delete(decode);
    // Only the callbacks wait for the commit: the messages go once decoded (see admitBatch).
    const { dones } = group;
    this.admitBatch(group.raws, undefined, decode).then(
      () => settleGathered(dones, null, this.logger),
      (err: unknown) => settleGathered(dones, err ?? new Error('the append failed without a reason'), this.logger),
    );
  }

  /**
   * The pipeline's entry for MQTT-style messages: decode each, dead-letter the rejects, run the transform
   * chain over the rest and append what it leaves in one group commit. Resolves once all of it (including
   * the filtered and consumed counts) is durable; only then may the messages be acknowledged.
   *
   * Not an async function, nor are the steps to the buffer's append: suspended at an await, an async
   * function keeps its parameters and locals alive until it resumes, here the messages and readings until
   * their commit. In a burst that is a young-generation collection or two later, so each of them was copied
   * by the scavenger and often promoted to the old space (issue "Pi-class efficiency"). Once the buffer has
   * encoded the records, what waits for the commit is the records and the devices' callbacks. A synchronous
   * throw still becomes a rejection, by try/catch: a wrapping closure would capture the messages, and the
   * callbacks made inside it would keep them alive through its context.
   */
  admitBatch(raws: readonly RawMessage[], signal?: AbortSignal, decode: DecodeOptions = this.decode): Promise<AdmitOutcome> {
    try {
      const decoded: PendingReading[] = [];
      const rejects: Promise<void>[] = [];
      for (const raw of raws) {
        this.countReceived(raw.source);
        const result = decodeMessage(raw, decode);
        if (result.ok) {
          this.activity?.seen(result.reading.deviceId, raw.receivedAt);
          decoded.push(result.reading);
        } else rejects.push(this.reject(raw, result.rejection));
      }
      if (signal?.aborted) {
        // The rejects already went to the dead letters; the rest is left unacknowledged for the device to resend.
        return Promise.all(rejects).then(() => Promise.reject(abortError(signal)));
      }
      const rejected = rejects.length;
      return Promise.all([this.appendThroughChain(decoded), ...rejects]).then(([appended]) => ({ ...appended, rejected }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Tells the stateful transforms the time (`flush` on stop) and stores what they produce (closed windows,
   * timed-out detectors), counted as produced in the same commit.
   */
  async onTime(now: number): Promise<Omit<AdmitOutcome, 'rejected'>> {
    return this.inTurn(() => this.chain.tick(now));
  }

  /**
   * Runs an operator's change to a transform's state (acknowledging an alarm) in turn with the batches, and
   * commits the records it makes with the state it changed, like any transition. A refusal (`op` throws)
   * changes nothing and is passed on.
   */
  async operate(transform: Transform, op: () => readonly ProducedRecord[]): Promise<Omit<AdmitOutcome, 'rejected'>> {
    let refusal: { err: unknown } | null = null;
    const outcome = await this.inTurn(() => {
      try {
        return this.chain.produceFrom(transform, op());
      } catch (err) {
        refusal = { err };
        return { readings: [], filtered: 0, consumed: 0, produced: 0, filteredBy: {}, deadLetters: [] };
      }
    });
    if (refusal) throw (refusal as { err: unknown }).err;
    return outcome;
  }

  /**
   * Reads the transforms' state in turn with the batches, and resolves once every write submitted before it
   * is committed, so what was read is what the disk holds (for republishing active alarms at start).
   */
  async committedView<T>(read: () => T): Promise<T> {
    let view!: T;
    await this.inTurn(() => {
      view = read();
      return { readings: [], filtered: 0, consumed: 0, produced: 0, filteredBy: {}, deadLetters: [] };
    });
    await this.buffer.settled();
    return view;
  }

  /**
   * Sends readings decoded again from dead letters through the transforms and rules, as if they had just
   * arrived (the resend guard aside), and removes those dead letters in the same commit as the outcome.
   */
  async replay(items: readonly ReplayItem[]): Promise<Omit<AdmitOutcome, 'rejected'>> {
    if (items.length === 0) return { accepted: 0, filtered: 0, consumed: 0, produced: 0, dropped: 0 };
    const replaces = replacedBy(items);
    const readings = items.map((i) => i.reading);
    if (this.chain.empty) return this.appendOutcome(null, readings, { replaces });
    return this.inTurn(() => this.chain.runReplayed(readings), readings, replaces);
  }

  /** Calls `observer` with the produced records of every commit that stored some, after the commit resolved. */
  observeCommits(observer: (records: readonly PendingReading[]) => void): void {
    this.commitObservers.push(observer);
  }

  async flushTransforms(): Promise<Omit<AdmitOutcome, 'rejected'>> {
    return this.inTurn(() => this.chain.flush());
  }

  /**
   * Gives the stateful transforms what they checkpointed before the last stop or crash. Called once at start,
   * before any source runs: the state on disk accounts exactly for the readings that were acknowledged.
   */
  async restoreTransformState(): Promise<{ restored: number; orphaned: number }> {
    if (!this.chain.stateful) return { restored: 0, orphaned: 0 };
    return this.chain.restore(await this.buffer.readState());
  }

  /** Not async, so that the readings are not held until the commit (see admitBatch). */
  private appendThroughChain(readings: readonly PendingReading[]): Promise<Omit<AdmitOutcome, 'rejected'>> {
    if (readings.length === 0) return Promise.resolve({ accepted: 0, filtered: 0, consumed: 0, produced: 0, dropped: 0 });
    if (this.chain.empty) return this.appendOutcome(null, readings);
    return this.inTurn(() => this.chain.run(readings), readings);
  }

  /**
   * Runs the chain and appends its outcome. With stateful transforms, batches take turns from running the
   * chain until their writes have joined a commit, so the state changes reach the disk in the order they were
   * made (each checkpoint holds whole values: a later one must win). The turn is released before the fsync,
   * so concurrent batches still share one commit.
   *
   * If an append fails, the in-memory state counts readings that were not acknowledged (their devices will
   * send them again): it is rebuilt from the disk, which holds exactly the committed state, once the writes
   * in flight have settled.
   */
  // No default values for the parameters: with them, V8 keeps the arguments apart from the parameters, and
  // reassigning a parameter below would not let go of the readings.
  private async inTurn(run: () => ChainOutcome, readings?: readonly PendingReading[], replaces?: ReplacedDeadLetters): Promise<Omit<AdmitOutcome, 'rejected'>> {
    if (!this.chain.stateful) return this.appendOutcome(run(), readings ?? [], replaces ? { replaces } : {});
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((resolve) => (release = resolve));
    await previous;
    let submitted = false;
    try {
      if (this.stateSuspect) await this.rebuildState();
      const onSubmitted = (): void => {
        submitted = true;
        release();
      };
      // run() before checkpoint(): the state written is the state after this batch.
      const appended = this.appendOutcome(run(), readings ?? [], { state: this.chain.checkpoint(), onSubmitted, ...(replaces ? { replaces } : {}) });
      // This frame stays suspended until the commit; the readings need not stay with it (see admitBatch).
      readings = undefined;
      run = ranAlready;
      return await appended;
    } catch (err) {
      // Not submitted: nothing of it was written, and no later batch has run yet, so rebuild now. Submitted:
      // later batches may already be under way; the next turn rebuilds first.
      if (submitted) this.stateSuspect = true;
      else await this.rebuildState().catch((rebuildErr: unknown) => this.logger.error({ err: describeError(rebuildErr) }, 'transform state could not be re-read after a failed append'));
      throw err;
    } finally {
      release();
    }
  }

  private async rebuildState(): Promise<void> {
    await this.buffer.settled();
    const { restored } = this.chain.restore(await this.buffer.readState());
    this.stateSuspect = false;
    this.logger.warn({ entries: restored }, 'an append failed: transform state was re-read from the buffer, which holds the committed state');
  }

  /**
   * Appends what the chain left and counts the outcome once it is committed. Not async: what the commit's
   * reaction needs is taken from the readings first, so the readings themselves are not held until then
   * (see admitBatch).
   */
  private appendOutcome(
    outcome: ChainOutcome | null,
    readings: readonly PendingReading[] = [],
    { state, onSubmitted, replaces }: { state?: readonly StateWrite[]; onSubmitted?: () => void; replaces?: ReplacedDeadLetters } = {},
  ): Promise<Omit<AdmitOutcome, 'rejected'>> {
    try {
      const ledger = outcome ? TransformChain.ledgerDelta(outcome) : undefined;
      const hasState = state !== undefined && state.length > 0;
      if (outcome && outcome.readings.length === 0 && !ledger && !hasState && !replaces) {
        onSubmitted?.();
        return Promise.resolve({ accepted: 0, filtered: 0, consumed: 0, produced: 0, dropped: 0 });
      }
      const stored = outcome ? outcome.readings : readings;
      const deadLetters = outcome && outcome.deadLetters.length > 0 ? outcome.deadLetters.map(transformDeadLetter) : undefined;
      const count = stored.length;
      const counts = { filtered: outcome?.filtered ?? 0, consumed: outcome?.consumed ?? 0, produced: outcome?.produced ?? 0 };
      const filteredBy = outcome?.filteredBy;
      // The records transforms made, for the commit observers; readings are never passed to them.
      const made = counts.produced > 0 && this.commitObservers.length > 0 ? stored.filter((r) => r.kind !== undefined && r.kind !== 'reading') : [];
      const appended = this.buffer.append(stored, {
        ...(ledger ? { ledger } : {}),
        ...(hasState ? { state } : {}),
        ...(deadLetters ? { deadLetters } : {}),
        ...(onSubmitted ? { onSubmitted } : {}),
        ...(replaces ? { replaces } : {}),
      });
      return appended.then((result) => {
        for (const entry of deadLetters ?? []) {
          this.metrics.inc('readings_dead_lettered_total', { reason: entry.reason });
          this.warnings.warn(`transform:${entry.reason}`, { reason: entry.reason, origin: entry.origin, topic: entry.topic, detail: entry.message }, 'a rule sent a reading to the dead letters');
        }
        for (const [reason, n] of Object.entries(filteredBy ?? {})) this.metrics.inc('readings_filtered_total', { reason }, n);
        if (counts.consumed) this.metrics.inc('readings_consumed_total', undefined, counts.consumed);
        if (counts.produced) this.metrics.inc('records_produced_total', undefined, counts.produced);
        if (result === 'stored') {
          this.buffered.inc(count);
          this.notifyCommitted(made);
        } else if (count > 0) this.metrics.inc('readings_dropped_total', { reason: 'buffer_full' }, count);
        return result === 'stored' ? { accepted: count, dropped: 0, ...counts } : { accepted: 0, dropped: count, ...counts };
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private notifyCommitted(produced: readonly PendingReading[]): void {
    if (produced.length === 0) return;
    for (const observer of this.commitObservers) {
      try {
        observer(produced);
      } catch (err) {
        // An observer's bug must not turn a committed batch into a failed one (the devices would resend it).
        this.logger.error({ err: describeError(err) }, 'a commit observer failed');
      }
    }
  }

  /**
   * Appends readings a source has already parsed from its own framing (serial lines, Modbus registers), in
   * one group commit. Resolves once they are durable (or dropped by the full-buffer policy, counted).
   */
  admitReadings(source: string, readings: readonly (Reading | PendingReading)[]): Promise<AppendOutcome> {
    if (readings.length === 0) return Promise.resolve('stored');
    try {
      for (const reading of readings) {
        this.countReceived(source);
        this.activity?.seen(reading.deviceId, reading.receivedAt);
      }
      // Not awaited here: the readings are let go once encoded, not held until the commit (see admitBatch).
      return this.appendThroughChain(readings).then((outcome) => (outcome.dropped > 0 ? 'dropped' : 'stored'));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Keeps a message a source could not turn into a reading (garbage on a serial line, a frame over the cap),
   * with its reason: counted as received and dead-lettered, and warned about at a bounded rate.
   */
  async rejectMessage(raw: RawMessage, rejection: Rejection): Promise<void> {
    this.countReceived(raw.source);
    await this.reject(raw, rejection);
  }

  /** Records a message that was refused before it could be read whole (its payload is not kept). */
  async refuse(entry: Omit<DeadLetter, 'receivedAt'>): Promise<void> {
    this.countReceived(entry.source);
    await this.deadLetter({ ...entry, receivedAt: Date.now() });
  }

  private async reject(raw: RawMessage, rejection: Rejection): Promise<void> {
    await this.deadLetter({
      reason: rejection.reason,
      message: rejection.message,
      source: raw.source,
      origin: raw.origin,
      topic: raw.topic,
      receivedAt: raw.receivedAt,
      payloadBase64: raw.payload.toString('base64'),
    });
  }

  private async deadLetter(entry: DeadLetter): Promise<void> {
    await this.buffer.appendDeadLetter(entry);
    this.metrics.inc('readings_dead_lettered_total', { reason: entry.reason });
    this.warnings.warn(
      `${entry.source}:${entry.reason}`,
      { reason: entry.reason, origin: entry.origin, topic: entry.topic, detail: entry.message },
      // A packet refused before it was read (oversize) leaves only its refusal in the dead letters: say so,
      // since an operator looking for the payload there would not find it.
      entry.payloadBase64 === undefined
        ? 'message refused before its payload was read; the refusal (not the payload) is kept in the dead letters'
        : 'message rejected and kept in the dead letters',
    );
  }
}

/**
 * A reading a transform dead-lettered, kept as the payload a device would have sent (`ts`, `seq` and its
 * values), so `tidegate dead-letters replay` can decode it again and send it through the rules once more.
 */
function transformDeadLetter(d: ChainDeadLetter): DeadLetter {
  const { reading } = d;
  const payload = { ...(reading.ts !== undefined ? { ts: reading.ts } : {}), ...(reading.seq !== undefined ? { seq: reading.seq } : {}), ...reading.values };
  return { reason: d.reason, message: d.message, source: 'transform', origin: reading.deviceId, topic: reading.topic, receivedAt: reading.receivedAt, payloadBase64: Buffer.from(JSON.stringify(payload)).toString('base64') };
}

/** What became of a batch of messages; the counts add up to the messages plus the produced records. */
export interface AdmitOutcome {
  /** Stored in the buffer (readings that passed and produced records). */
  accepted: number;
  /** Discarded by a transform, counted as filtered. */
  filtered: number;
  /** Folded into a transform's state, counted as consumed. */
  consumed: number;
  /** Records transforms made; included in `accepted` when stored. */
  produced: number;
  /** Could not be decoded: dead-lettered. */
  rejected: number;
  /** Dropped by the full-buffer policy (counted). */
  dropped: number;
}

/** Told once whether an admitted message is stored: null when it is durable, the error when it is not. */
export type AdmitCallback = (err: unknown) => void;

/** What inTurn holds in place of a batch's run once it has run: the closure refers to the readings. */
function ranAlready(): never {
  throw new Error('a batch ran twice');
}

/** Messages admitted one by one in one turn, and their callbacks, side by side (admitGathered). */
interface Gathered {
  raws: RawMessage[];
  dones: AdmitCallback[];
}

/** Calls every callback of a gathered batch; one that throws is logged and does not keep the rest from theirs. */
function settleGathered(dones: readonly AdmitCallback[], err: unknown, logger: Logger): void {
  for (const done of dones) {
    try {
      done(err);
    } catch (callbackErr) {
      logger.error({ err: describeError(callbackErr) }, 'an admission callback failed');
    }
  }
}
