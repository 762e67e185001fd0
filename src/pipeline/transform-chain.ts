import type { LedgerDelta } from '../buffer/conservation.js';
import type { PendingReading, StateWrite } from '../buffer/types.js';
import { TidegateError } from '../core/errors.js';
import { transformFactory, type TransformEntry } from './registry.js';
import { ResendGuard } from './resend-guard.js';
import type { ProducedRecord, Transform, TransformContext } from './transform.js';
// Building a chain from config needs the shipped transform types registered: src/pipeline/load-chain.ts
// loads them (through rule-transform.ts) when the config has transforms or rules.

/** What a chain made of a batch: the readings to buffer and the counts the ledger must carry with them. */
export interface ChainOutcome {
  /** Readings that passed every transform, and records transforms produced, in order. */
  readonly readings: PendingReading[];
  readonly filtered: number;
  readonly consumed: number;
  readonly produced: number;
  /** Filter reasons, counted (for metrics). */
  readonly filteredBy: Readonly<Record<string, number>>;
  /** Inputs a transform dead-lettered: stored as dead letters in the same commit as the readings. */
  readonly deadLetters: readonly ChainDeadLetter[];
}

/** A reading a transform sent to the dead letters, with its reason (prefixed with the transform id). */
export interface ChainDeadLetter {
  readonly reading: PendingReading;
  readonly reason: string;
  readonly message: string;
}

/**
 * The configured transforms in order. A reading goes through each in turn until one filters or consumes it;
 * records a transform produces go through the transforms after it, like readings.
 */
export class TransformChain {
  constructor(
    readonly transforms: readonly Transform[],
    private readonly ctx: TransformContext,
  ) {
    for (const t of transforms) t.attach?.(ctx);
  }

  /**
   * The chain the config describes. With `dropResends` (the default) a chain that keeps state starts with the
   * resend guard: a reading a device sent twice must not be folded into a window twice.
   */
  static fromConfig(entries: readonly TransformEntry[], ctx: TransformContext, opts: { dropResends?: boolean; rules?: readonly Transform[] } = {}): TransformChain {
    const transforms = entries.map((entry, i) => buildTransform(entry, `${entry.type}#${i}`, `transforms[${i}]`));
    // Rules run after the plain transforms: a `transforms:` drop_fields removes a field before any rule sees it.
    return new TransformChain(TransformChain.guarded([...transforms, ...(opts.rules ?? [])], opts.dropResends ?? true), ctx);
  }

  /** Puts the resend guard in front of a chain that keeps state (and only then: stateless chains need none). */
  static guarded(transforms: readonly Transform[], dropResends: boolean): Transform[] {
    const stateful = transforms.some((t) => t.checkpoint !== undefined);
    return dropResends && stateful ? [new ResendGuard(), ...transforms] : [...transforms];
  }

  get empty(): boolean {
    return this.transforms.length === 0;
  }

  /** Whether any transform keeps state that must be persisted with the readings it accounts for. */
  get stateful(): boolean {
    return this.transforms.some((t) => t.checkpoint !== undefined);
  }

  /**
   * What every stateful transform changed since the last call, each key namespaced `<transform id>!<key>`,
   * for the append that carries the readings those changes account for.
   */
  checkpoint(): StateWrite[] {
    const out: StateWrite[] = [];
    for (const t of this.transforms) {
      if (!t.checkpoint) continue;
      const prefix = `${t.id}!`;
      for (const op of t.checkpoint()) out.push(op.type === 'put' ? { type: 'put', key: prefix + op.key, value: op.value } : { type: 'del', key: prefix + op.key });
    }
    return out;
  }

  /**
   * Hands each stateful transform the entries it wrote (namespace removed), before any reading. Entries of a
   * transform that is no longer configured are returned, so the caller can say so (they are left on disk).
   */
  restore(state: ReadonlyMap<string, string>): { restored: number; orphaned: number } {
    const byTransform = new Map<Transform, Map<string, string>>();
    let orphaned = 0;
    for (const [key, value] of state) {
      const owner = this.transforms.find((t) => t.restore && key.startsWith(`${t.id}!`));
      if (!owner) {
        orphaned += 1;
        continue;
      }
      let entries = byTransform.get(owner);
      if (!entries) byTransform.set(owner, (entries = new Map()));
      entries.set(key.slice(owner.id.length + 1), value);
    }
    for (const t of this.transforms) t.restore?.(byTransform.get(t) ?? new Map());
    return { restored: state.size - orphaned, orphaned };
  }

  run(batch: readonly PendingReading[]): ChainOutcome {
    return this.runFrom(0, [...batch], 0);
  }

  /**
   * Runs readings an operator replays from the dead letters. They skip the resend guard: it saw them (by
   * seq) when they first came, and would take the replay, which is meant, for a device's resend.
   */
  runReplayed(batch: readonly PendingReading[]): ChainOutcome {
    return this.runFrom(this.transforms[0] instanceof ResendGuard ? 1 : 0, [...batch], 0);
  }

  /**
   * Tells every stateful transform the time; what each produces goes through the transforms after it.
   * `flush` does the same on stop, with each transform's flush instead.
   */
  tick(now: number): ChainOutcome {
    return this.emitted((t) => t.onTime?.(now, this.ctx) ?? []);
  }

  flush(): ChainOutcome {
    return this.emitted((t) => t.flush?.(this.ctx) ?? []);
  }

  /**
   * Records a transform made outside `process` and `onTime` (an operator acknowledging an alarm), sent through
   * the transforms after it like anything it produces.
   */
  produceFrom(transform: Transform, produced: readonly ProducedRecord[]): ChainOutcome {
    let index = this.transforms.indexOf(transform);
    let out = produced;
    if (index < 0) {
      // A stage of a composite (a rule): it goes through the rule's later stages first.
      index = this.transforms.findIndex((t) => t.stages?.includes(transform));
      const owner = this.transforms[index];
      if (!owner?.produceAfter) throw new TidegateError('ERR_USAGE', `transform ${transform.id} is not in this chain`);
      out = owner.produceAfter(transform, produced, this.ctx);
    }
    const records = out.map(asReading);
    return this.runFrom(index + 1, records, records.length);
  }

  /** Every transform, with the stages of composites (rules) in place of the composite. */
  get allStages(): Transform[] {
    return this.transforms.flatMap((t) => (t.stages ? [...t.stages] : [t]));
  }

  private emitted(emit: (t: Transform) => readonly ProducedRecord[]): ChainOutcome {
    const outcomes: ChainOutcome[] = this.transforms.map((t, i) => {
      const records = emit(t).map(asReading);
      return this.runFrom(i + 1, records, records.length);
    });
    const filteredBy: Record<string, number> = {};
    for (const o of outcomes) for (const [k, v] of Object.entries(o.filteredBy)) filteredBy[k] = (filteredBy[k] ?? 0) + v;
    return {
      readings: outcomes.flatMap((o) => o.readings),
      filtered: outcomes.reduce((n, o) => n + o.filtered, 0),
      consumed: outcomes.reduce((n, o) => n + o.consumed, 0),
      produced: outcomes.reduce((n, o) => n + o.produced, 0),
      filteredBy,
      deadLetters: outcomes.flatMap((o) => o.deadLetters),
    };
  }

  private runFrom(first: number, batch: PendingReading[], alreadyProduced: number): ChainOutcome {
    let current = batch;
    let filtered = 0;
    let consumed = 0;
    let produced = alreadyProduced;
    const filteredBy: Record<string, number> = {};
    const deadLetters: ChainDeadLetter[] = [];
    for (const transform of this.transforms.slice(first)) {
      const next: PendingReading[] = [];
      for (const reading of current) {
        const result = transform.process(reading, this.ctx);
        if (result.fate === 'pass') next.push(result.reading);
        else if (result.fate === 'filter') {
          filtered += 1;
          filteredBy[`${transform.id}:${result.reason}`] = (filteredBy[`${transform.id}:${result.reason}`] ?? 0) + 1;
        } else if (result.fate === 'dead_letter') deadLetters.push({ reading, reason: `${transform.id}:${result.reason}`, message: result.message });
        else consumed += 1;
        for (const record of result.produced ?? []) {
          next.push(asReading(record));
          produced += 1;
        }
      }
      current = next;
    }
    // A batch holding a produced alarm must not carry the device's readings into the alarm lane with it.
    if (produced > 0) current = current.map((r) => (r.lane ? r : { ...r, lane: 'telemetry' }));
    return { readings: current, filtered, consumed, produced, filteredBy, deadLetters };
  }

  /**
   * The ledger change for an outcome appended as one batch: the buffer counts every reading it stores as
   * received, so produced records are taken back out of `received`, and the inputs that were filtered or
   * consumed (not stored) are put in.
   */
  static ledgerDelta(outcome: ChainOutcome): LedgerDelta | undefined {
    const dead = outcome.deadLetters.length;
    if (outcome.filtered === 0 && outcome.consumed === 0 && outcome.produced === 0 && dead === 0) return undefined;
    const deadLettered: Record<string, number> = {};
    for (const d of outcome.deadLetters) deadLettered[d.reason] = (deadLettered[d.reason] ?? 0) + 1;
    return {
      received: outcome.filtered + outcome.consumed + dead - outcome.produced,
      filtered: outcome.filtered,
      consumed: outcome.consumed,
      produced: outcome.produced,
      ...(dead > 0 ? { deadLettered } : {}),
    };
  }
}

/**
 * Builds one configured transform (or rule stage) from its validated entry (its schema's output, defaults
 * filled in: `transformEntrySchema`); `where` names it in errors (`transforms[2]`).
 */
export function buildTransform(entry: TransformEntry, id: string, where: string): Transform {
  const factory = transformFactory(entry.type);
  if (!factory) throw new TidegateError('ERR_CONFIG_INVALID', `${where}: unknown transform type "${entry.type}"`);
  const { type: _type, ...slice } = entry;
  return factory.create(slice as never, id);
}

function asReading(record: ProducedRecord): PendingReading {
  // The record's kind travels in the stream, so consumers tell aggregates and alarms from readings.
  return { ...record.reading, kind: record.kind, lane: record.lane };
}
