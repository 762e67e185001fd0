import { TidegateError } from '../../core/errors.js';
import { compileGlobs } from '../../core/glob.js';
import type { Counter } from '../../core/metrics.js';
import type { PendingReading } from '../../buffer/types.js';
import { topicMatches } from '../../sinks/kinesis/routes.js';
import { buildTransform } from '../../pipeline/transform-chain.js';
import { consume, deadLetter, filter, pass, type ProducedRecord, type StateOp, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { compileExpression, type CompiledExpression } from './expression.js';
import type { RuleConfig } from './rule-config.js';
// A rule's stages are transforms of the shipped types: building rules needs their factories registered.
import '../../pipeline/transforms/index.js';

const OUTCOMES = ['matched', 'passed', 'filtered', 'consumed', 'dead_lettered'] as const;
type Outcome = (typeof OUTCOMES)[number];

/** One reading in 16 is timed: enough for a mean, without a clock read on every reading. */
const SAMPLE_EVERY = 16;

/**
 * A rule (`rules:` in config): a match and ordered stages, run as one transform in the chain. A reading the
 * match takes goes through the stages in turn; what a stage produces (an aggregate, an alarm) goes through
 * the stages after it, then on up the chain. Readings the match does not take pass untouched.
 *
 * The stages are the same transforms `transforms:` offers (each keeps its own contract); the rule adds the
 * match, `raw` (whether a reading a window consumed still goes up), the output topic, and per-rule counters.
 * Stage state is checkpointed under `<type>#<i>!` inside the rule's namespace (`rule:<name>!`).
 */
export class RuleTransform implements Transform {
  readonly id: string;
  readonly name: string;
  readonly stages: readonly Transform[];
  readonly onTime?: (now: number, ctx: TransformContext) => readonly ProducedRecord[];
  readonly flush?: (ctx: TransformContext) => readonly ProducedRecord[];
  readonly checkpoint?: () => readonly StateOp[];
  readonly restore?: (state: ReadonlyMap<string, string>) => void;

  private readonly devices: RegExp | null;
  private readonly when: CompiledExpression | null;
  private readonly kinds: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  private counters: Record<Outcome, Counter> | undefined;
  private producedCounter: Counter | undefined;
  private discardedCounter: Counter | undefined;
  private sampleCounters: { seconds: Counter; samples: Counter } | undefined;
  private seen = 0;

  constructor(private readonly config: RuleConfig) {
    this.name = config.name;
    this.id = `rule:${config.name}`;
    this.stages = config.stages.map((entry, i) => {
      const where = `rules "${config.name}" stages[${i}] (${entry.type})`;
      try {
        return buildTransform(entry, `${this.id}/${entry.type}#${i}`, where);
      } catch (error) {
        // A stage that cannot be built (a registry file that does not load) names the rule it belongs to.
        if (error instanceof TidegateError && !error.message.startsWith(where)) throw new TidegateError(error.code, `${where}: ${error.message}`, { cause: error });
        throw error;
      }
    });
    this.prefixes = config.stages.map((entry, i) => `${entry.type}#${i}!`);
    this.devices = config.match.devices ? compileGlobs(config.match.devices) : null;
    this.when = config.match.when !== undefined ? compileExpression(config.match.when, 'bool') : null;
    this.kinds = new Set(config.match.kinds ?? ['reading']);
    // Only a rule with a stage that keeps or watches state is stateful (and so turns on the resend guard).
    if (this.stages.some((s) => s.onTime)) this.onTime = (now, ctx) => this.emitted((s) => s.onTime?.(now, ctx) ?? [], ctx);
    if (this.stages.some((s) => s.flush)) this.flush = (ctx) => this.emitted((s) => s.flush?.(ctx) ?? [], ctx);
    if (this.stages.some((s) => s.checkpoint)) {
      this.checkpoint = () => this.stateOps();
      this.restore = (state) => this.restoreStages(state);
    }
  }

  attach(ctx: TransformContext): void {
    const rule = this.name;
    this.counters = Object.fromEntries(OUTCOMES.map((o) => [o, ctx.metrics.counter('rule_readings_total', { rule, outcome: o })])) as Record<Outcome, Counter>;
    this.producedCounter = ctx.metrics.counter('rule_records_produced_total', { rule });
    this.discardedCounter = ctx.metrics.counter('rule_records_discarded_total', { rule });
    this.sampleCounters = { seconds: ctx.metrics.counter('rule_eval_sampled_seconds_total', { rule }), samples: ctx.metrics.counter('rule_eval_samples_total', { rule }) };
    ctx.metrics.counter('rule_match_errors_total', { rule });
    for (const stage of this.stages) stage.attach?.(ctx);
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    if (!this.matches(reading, ctx)) return pass(reading);
    if (!this.counters) this.attach(ctx);
    this.counters!.matched.inc();
    const timed = this.seen++ % SAMPLE_EVERY === 0;
    const started = timed ? process.hrtime.bigint() : 0n;
    const result = this.runReading(reading, ctx);
    if (timed) {
      this.sampleCounters!.seconds.inc(Number(process.hrtime.bigint() - started) / 1e9);
      this.sampleCounters!.samples.inc();
    }
    const outcome: Outcome = result.fate === 'pass' ? 'passed' : result.fate === 'filter' ? 'filtered' : result.fate === 'consume' ? 'consumed' : 'dead_lettered';
    this.counters![outcome].inc();
    if (result.produced) this.producedCounter!.inc(result.produced.length);
    return result;
  }

  /** What one of the stages made outside `process` (an operator's acknowledge), through the stages after it. */
  produceAfter(stage: Transform, produced: readonly ProducedRecord[], ctx: TransformContext): readonly ProducedRecord[] {
    const out = this.runRecords(this.stages.indexOf(stage) + 1, produced, ctx);
    this.producedCounter?.inc(out.length);
    return out;
  }

  private matches(reading: PendingReading, ctx: TransformContext): boolean {
    const m = this.config.match;
    if (!this.kinds.has(reading.kind ?? 'reading')) return false;
    if (m.lane !== undefined && (reading.lane ?? 'telemetry') !== m.lane) return false;
    if (this.devices && !this.devices.test(reading.deviceId)) return false;
    if (m.topics && !m.topics.some((f) => topicMatches(f, reading.topic))) return false;
    if (!this.when) return true;
    try {
      return this.when.evaluate(reading) === true;
    } catch {
      // A reading without the value `when` names is not one this rule is about.
      ctx.metrics.inc('rule_match_errors_total', { rule: this.name });
      return false;
    }
  }

  private runReading(reading: PendingReading, ctx: TransformContext): TransformResult {
    let current = reading;
    const produced: ProducedRecord[] = [];
    for (let i = 0; i < this.stages.length; i++) {
      const stage = this.stages[i]!;
      const result = stage.process(current, ctx);
      if (result.produced && result.produced.length > 0) produced.push(...this.runRecords(i + 1, result.produced, ctx));
      if (result.fate === 'pass') {
        current = result.reading;
        continue;
      }
      const made = produced.length > 0 ? produced : undefined;
      switch (result.fate) {
        case 'filter':
          return filter(this.reasonOf(stage, result.reason), made);
        case 'dead_letter':
          return deadLetter(this.reasonOf(stage, result.reason), result.message, made);
        case 'consume':
          // `keep`: the reading goes on up as it entered the stage that consumed it; the stages after it see
          // only what that stage produced, never raw readings mixed with its results.
          return this.config.raw === 'keep' ? pass(current, made) : consume(made);
      }
    }
    return pass(current, produced.length > 0 ? produced : undefined);
  }

  /** A stage's reason as the rule reports it: `<stage>:<reason>`, the stage named without the rule's prefix. */
  private reasonOf(stage: Transform, reason: string): string {
    return `${stage.id.slice(this.id.length + 1)}:${reason}`;
  }

  /** Records a stage produced, through the stages from `first` on; returns what comes out of the rule. */
  private runRecords(first: number, records: readonly ProducedRecord[], ctx: TransformContext): ProducedRecord[] {
    const out: ProducedRecord[] = [];
    for (const record of records) {
      let current: PendingReading = { ...record.reading, kind: record.kind, lane: record.lane };
      let alive = true;
      for (let i = first; i < this.stages.length && alive; i++) {
        const result = this.stages[i]!.process(current, ctx);
        if (result.produced && result.produced.length > 0) out.push(...this.runRecords(i + 1, result.produced, ctx));
        if (result.fate === 'pass') current = result.reading;
        else {
          // A later stage filtered or folded the record (a detector consuming aggregates): it was never
          // stored, so the ledger does not see it; the rule's counter does.
          if (result.fate !== 'consume') this.discardedCounter?.inc();
          alive = false;
        }
      }
      if (alive) out.push(this.asOutput(record, current));
    }
    return out;
  }

  private asOutput(record: ProducedRecord, reading: PendingReading): ProducedRecord {
    const { kind: _kind, lane: _lane, ...rest } = reading;
    const topic = this.config.output.topic;
    const withTopic = topic !== undefined ? { ...rest, topic: topic.replaceAll('{rule}', this.name).replaceAll('{deviceId}', reading.deviceId) } : rest;
    return { kind: record.kind, lane: reading.lane ?? record.lane, reading: withTopic };
  }

  private emitted(emit: (stage: Transform) => readonly ProducedRecord[], ctx: TransformContext): ProducedRecord[] {
    const out: ProducedRecord[] = [];
    this.stages.forEach((stage, i) => out.push(...this.runRecords(i + 1, emit(stage), ctx)));
    this.producedCounter?.inc(out.length);
    return out;
  }

  private stateOps(): StateOp[] {
    const ops: StateOp[] = [];
    this.stages.forEach((stage, i) => {
      if (!stage.checkpoint) return;
      const prefix = this.prefixes[i]!;
      for (const op of stage.checkpoint()) ops.push(op.type === 'put' ? { type: 'put', key: prefix + op.key, value: op.value } : { type: 'del', key: prefix + op.key });
    });
    return ops;
  }

  private restoreStages(state: ReadonlyMap<string, string>): void {
    const byStage = this.stages.map(() => new Map<string, string>());
    for (const [key, value] of state) {
      const i = this.prefixes.findIndex((p) => key.startsWith(p));
      // State of a stage no longer at this position (the rule was edited) is not handed to another stage.
      if (i >= 0 && this.stages[i]!.restore) byStage[i]!.set(key.slice(this.prefixes[i]!.length), value);
    }
    this.stages.forEach((stage, i) => stage.restore?.(byStage[i]!));
  }
}

/** Builds the configured rules (compiling expressions, loading registries): throws a config error if one cannot be. */
export function buildRules(rules: readonly RuleConfig[]): RuleTransform[] {
  return rules.map((rule) => new RuleTransform(rule));
}
