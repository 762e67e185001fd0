import { z } from 'zod';
import { transformEntrySchema } from '../../pipeline/transform-schemas.js';
import { topicFilterProblem } from '../../sources/mqtt-client/config.js';
import { expressionSchema } from './expression-schema.js';

export const ruleNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, `_`, `.` and `-` (it names metrics, records and checkpointed state)');

const topicFilter = z
  .string()
  .min(1)
  .superRefine((filter, ctx) => {
    const problem = topicFilterProblem(filter);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Which readings a rule takes; every condition given must hold, and a rule without conditions takes all. */
export const ruleMatchSchema = z
  .strictObject({
    lane: z.enum(['telemetry', 'alarm']).optional().describe('Only readings (or records of earlier rules) of this lane.'),
    devices: z.array(z.string().min(1)).min(1).max(256).optional().describe('Device id globs (`*` any run, `?` one character); any of them.'),
    topics: z.array(topicFilter).min(1).max(64).optional().describe('MQTT topic filters (`+` one level, `#` the rest) on the topic the reading arrived on; any of them.'),
    kinds: z.array(z.enum(['reading', 'aggregate', 'alarm', 'derived'])).min(1).optional().describe('Record kinds the rule takes. Default: device readings only, so a rule does not fold its own aggregates (or another rule\'s) unless asked.'),
    when: expressionSchema('bool').optional().describe('A CEL expression that must be true, e.g. `has(values.co2)` or `tags.floor == "3"`. A reading it cannot be evaluated on does not match.'),
  })
  .default({})
  .describe('Which readings the rule takes; the others pass it untouched.');

export const ruleOutputSchema = z
  .strictObject({
    topic: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('The topic the rule\'s results (aggregates, alarms, derived records) carry, so routes can send them elsewhere: `{rule}` and `{deviceId}` are replaced, e.g. `rules/{rule}/{deviceId}`. Default: the topic of the reading that made them.'),
  })
  .default({})
  .describe('Where the rule\'s results go: through `routes` like any record (match on kind, topic or lane).');

const ruleObjectSchema = z
  .strictObject({
    name: ruleNameSchema.describe('The rule name: unique; it labels metrics (rule_readings_total{rule}), its records (result.rule) and its checkpointed state. Renaming a rule starts its state afresh.'),
    match: ruleMatchSchema,
    stages: z
      .array(transformEntrySchema)
      .min(1)
      .max(32)
      .describe(
        'What the rule does to the readings it takes, in order: filter, compute, deadband, enrich, window, detect, drop_fields (each with its own keys). What a stage produces (an aggregate) goes through the stages after it. A window\'s `name` and a detector\'s `rule` default to the rule name (`<name>.<i>` when the rule has several).',
      ),
    raw: z
      .enum(['keep', 'drop'])
      .default('keep')
      .describe('What becomes of a reading a window or detector stage consumed: `keep` sends it on up as well (as it entered that stage), `drop` sends only the rule\'s results (the reading counts as consumed). Filter and deadband stages discard in either case. Default keep.'),
    output: ruleOutputSchema,
  })
  .describe('An edge analytics rule: the readings it matches go through its stages in order.');

/** The name key each stage type that names its results takes, and so gets from the rule. */
const NAMED_STAGES: Readonly<Record<string, string>> = { window: 'name', detect: 'rule' };

/**
 * Fills in the names of a rule's windows and detectors from the rule's name before its stages are
 * validated, so `- type: detect` inside a rule needs no `rule:` of its own.
 */
export function withStageNames(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  const rule = input as { name?: unknown; stages?: unknown };
  if (typeof rule.name !== 'string' || !Array.isArray(rule.stages)) return input;
  const name = rule.name;
  const counts = new Map<string, number>();
  for (const stage of rule.stages) if (stage && typeof stage === 'object') counts.set(String((stage as { type?: unknown }).type), (counts.get(String((stage as { type?: unknown }).type)) ?? 0) + 1);
  const stages = rule.stages.map((stage: unknown, i: number) => {
    if (stage === null || typeof stage !== 'object') return stage;
    const type = String((stage as { type?: unknown }).type);
    const key = NAMED_STAGES[type];
    if (!key || key in stage) return stage;
    return { ...stage, [key]: counts.get(type) === 1 ? name : `${name}.${i}` };
  });
  return { ...rule, stages };
}

export const ruleSchema = z.preprocess(withStageNames, ruleObjectSchema);

export type RuleConfig = z.infer<typeof ruleObjectSchema>;
