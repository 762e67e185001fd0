import type { Metrics } from '../../core/metrics.js';

/** One rule's counters since start, as the dashboard's rules card shows them. */
export interface RuleStats {
  rule: string;
  matched: number;
  passed: number;
  filtered: number;
  consumed: number;
  deadLettered: number;
  produced: number;
  /** Mean evaluation time of a matched reading through the rule's stages (sampled), µs; null before a sample. */
  evalMicros: number | null;
}

export function ruleStats(metrics: Metrics, rules: readonly string[]): RuleStats[] {
  return rules.map((rule) => {
    const outcome = (o: string): number => metrics.get('rule_readings_total', { rule, outcome: o });
    const samples = metrics.get('rule_eval_samples_total', { rule });
    return {
      rule,
      matched: outcome('matched'),
      passed: outcome('passed'),
      filtered: outcome('filtered'),
      consumed: outcome('consumed'),
      deadLettered: outcome('dead_lettered'),
      produced: metrics.get('rule_records_produced_total', { rule }),
      evalMicros: samples > 0 ? (metrics.get('rule_eval_sampled_seconds_total', { rule }) / samples) * 1e6 : null,
    };
  });
}
