import { z } from 'zod';
import { ruleSchema, type RuleConfig } from './rule-config.js';

/** The `rules` slice: edge analytics rules, run after `transforms:` in order. */
export const rulesSchema = z
  .array(ruleSchema)
  .max(64)
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((rule, i) => {
      const first = seen.get(rule.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rule name "${rule.name}" is already used by rules[${first}]; rule names must be unique` });
      else seen.set(rule.name, i);
    });
  })
  .default([])
  .describe(
    'Edge analytics rules, applied in order after `transforms`: each takes the readings its `match` selects through its `stages` (filter, compute, deadband, enrich, window, detect). Guide: docs/guides/rules.md.',
  );

export type RulesConfig = z.infer<typeof rulesSchema>;

/**
 * Alarm rule names (a `detect` transform's or stage's `rule`) name alarms, their topics and operator
 * commands: they must be unique across `transforms` and every rule's stages.
 */
export function refineAlarmNamesAcrossRules(config: { transforms: readonly { type: string }[]; rules: readonly RuleConfig[] }, ctx: z.RefinementCtx): void {
  const seen = new Map<string, string>();
  const note = (entry: { type: string }, where: string, path: PropertyKey[]): void => {
    if (entry.type !== 'detect') return;
    const name = (entry as { rule?: unknown }).rule;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path, message: `alarm rule "${name}" is already used by ${first}; alarm rule names must be unique` });
    else seen.set(name, where);
  };
  config.transforms.forEach((t, i) => note(t, `transforms[${i}]`, ['transforms', i, 'rule']));
  config.rules.forEach((r, i) => r.stages.forEach((s, j) => note(s, `rules[${i}] ("${r.name}") stages[${j}]`, ['rules', i, 'stages', j, 'rule'])));
}
