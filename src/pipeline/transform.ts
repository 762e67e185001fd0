import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import type { Reading } from '../normalize/reading.js';
import type { Lane, PendingReading, StateWrite } from '../buffer/types.js';

/**
 * The transform contract: a stage that runs between decode and the buffer, on readings that decoded
 * cleanly (rejects are dead-lettered before any transform sees them).
 *
 * Every reading that enters a transform leaves with exactly one fate, so the conservation ledger balances:
 *
 *   received + produced = delivered + buffered + deadLettered + dropped + filtered + consumed
 *
 * - `pass`: it goes on to the next transform (then the buffer), possibly modified. Not counted here.
 * - `filter`: it is deliberately discarded, counted as `filtered`. Its device is still acknowledged.
 * - `consume`: it was folded into the transform's state (a window, a detector), counted as `consumed`;
 *   whatever the state later emits comes back as produced records.
 * - `dead_letter`: it cannot be used as the rule says (an unknown device an enrichment must not pass): kept in
 *   the dead letters, with the reason, in the same commit, counted as `deadLettered`; it can be replayed.
 *
 * Besides the fate, a transform may produce new records (an aggregate, an alarm), each counted as
 * `produced` and sent through the rest of the chain like any reading. A produced record names its lane:
 * alarms drain first and are the last dropped when the buffer is full.
 *
 * Transforms are synchronous and must not throw for a reading's content: a reading a transform cannot use
 * is filtered with a reason. A throw is a bug, and fails the batch (nothing is acknowledged, devices resend).
 */
export interface Transform {
  /** The config `type` it was built from, plus its position, for logs and metric labels. */
  readonly id: string;
  /**
   * A composite (a rule) lists the transforms it runs, so operators can reach a stage inside it (an alarm rule's
   * acknowledge) and what that stage makes goes through the stages after it: see `produceAfter`.
   */
  readonly stages?: readonly Transform[];
  /** Composites only: sends records one of its stages made outside `process` through the stages after it. */
  produceAfter?(stage: Transform, produced: readonly ProducedRecord[], ctx: TransformContext): readonly ProducedRecord[];
  /** Called once when the chain is built, before any reading: creates its counters, so they exist at 0. */
  attach?(ctx: TransformContext): void;
  /** Decides the fate of one reading. Called in arrival order; may keep state between calls. */
  process(reading: PendingReading, ctx: TransformContext): TransformResult;
  /**
   * Stateful transforms only: told the time (from the injected clock, never Date.now), so windows can close
   * and detectors can time out without a reading arriving. Returns what closing produced.
   */
  onTime?(now: number, ctx: TransformContext): readonly ProducedRecord[];
  /**
   * Stateful transforms only: the state changes since the last checkpoint, to be written in the same atomic
   * batch as the readings they account for, so after a crash the state matches what was acknowledged.
   * Called after every `process` batch, `onTime` and `flush`; each put holds a key's whole value (a later
   * checkpoint of a key replaces an earlier one). Keys are the transform's own: the chain namespaces them.
   * A transform with `checkpoint` must have `restore`.
   */
  checkpoint?(): readonly StateOp[];
  /**
   * Stateful transforms only: replaces the whole state with what its checkpoints wrote (key → value). Called
   * at start before any reading, and again whenever an append failed (the state in memory then counted
   * readings that were not acknowledged and will be sent again): it must forget everything it held first.
   */
  restore?(state: ReadonlyMap<string, string>): void;
  /** On stop: emits what the state holds that should not be lost (a partial window), then forgets it. */
  flush?(ctx: TransformContext): readonly ProducedRecord[];
}

/** What a transform may use besides the reading: the shared services, time from the injected clock. */
export interface TransformContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** What became of one input reading. */
export type InputFate =
  | { readonly fate: 'pass'; readonly reading: PendingReading }
  | { readonly fate: 'filter'; readonly reason: string }
  | { readonly fate: 'consume' }
  | { readonly fate: 'dead_letter'; readonly reason: string; readonly message: string };

/** A transform's answer for one reading: its fate, plus any records it produced. */
export type TransformResult = InputFate & { readonly produced?: readonly ProducedRecord[] };

/** What produced records are, for the dashboards and for downstream consumers telling them apart. */
export type ProducedKind = 'aggregate' | 'alarm' | 'derived';

/** A record a transform made (not received from a device). */
export interface ProducedRecord {
  readonly kind: ProducedKind;
  readonly lane: Lane;
  readonly reading: Reading;
}

/** A change to a transform's persisted state, namespaced to the transform by the chain. */
export type StateOp = StateWrite;

/** Shorthands a transform returns, so results read as sentences. */
export const pass = (reading: PendingReading, produced?: readonly ProducedRecord[]): TransformResult => (produced ? { fate: 'pass', reading, produced } : { fate: 'pass', reading });
export const filter = (reason: string, produced?: readonly ProducedRecord[]): TransformResult => (produced ? { fate: 'filter', reason, produced } : { fate: 'filter', reason });
export const deadLetter = (reason: string, message: string, produced?: readonly ProducedRecord[]): TransformResult => (produced ? { fate: 'dead_letter', reason, message, produced } : { fate: 'dead_letter', reason, message });
export const consume = (produced?: readonly ProducedRecord[]): TransformResult => (produced ? { fate: 'consume', produced } : { fate: 'consume' });
