import type { Counter, Metrics } from '../../core/metrics.js';
import type { Severity } from './schema.js';
import { TRANSITIONS, type Transition } from './state-machine.js';

/**
 * The counters of one rule, every series created up front: the label sets are bounded by the config (rule ×
 * its severity × five transitions), never by what devices send.
 */
export class AlarmCounters {
  private readonly transitions: Record<Transition, Counter>;
  readonly evaluations: Counter;
  readonly evaluationSeconds: Counter;
  readonly evicted: Counter;
  readonly refused: Counter;
  private readonly skipped = new Map<string, Counter>();

  constructor(
    private readonly metrics: Metrics,
    private readonly rule: string,
    severity: Severity,
  ) {
    this.transitions = Object.fromEntries(TRANSITIONS.map((t) => [t, metrics.counter('alarm_transitions_total', { rule, severity, transition: t })])) as Record<Transition, Counter>;
    this.evaluations = metrics.counter('alarm_detector_evaluations_total', { rule });
    this.evaluationSeconds = metrics.counter('alarm_detector_evaluation_seconds_total', { rule });
    this.evicted = metrics.counter('alarm_series_evicted_total', { rule });
    this.refused = metrics.counter('alarm_series_refused_total', { rule });
    for (const reason of SKIP_REASONS) this.skipped.set(reason, metrics.counter('alarm_readings_skipped_total', { rule, reason }));
  }

  transition(t: Transition): void {
    this.transitions[t].inc();
  }

  skip(reason: SkipReason): void {
    this.skipped.get(reason)!.inc();
  }
}

/** Why a reading a rule matched was not judged (it still passes on). */
export type SkipReason = 'no_field' | 'not_numeric' | 'no_group_tag';
const SKIP_REASONS: readonly SkipReason[] = ['no_field', 'not_numeric', 'no_group_tag'];
