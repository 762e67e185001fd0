import type { Config } from '../config/schema.js';
import { TransformChain } from './transform-chain.js';
import type { TransformContext } from './transform.js';

export interface LoadedChain {
  chain: TransformChain;
  /** The configured rules' names, in order. */
  ruleNames: string[];
}

/**
 * The transform chain a config asks for: its `transforms:` and then its rules. The shipped transforms and
 * the rules, with the expression library (cel-js), are loaded only when the config has any: a gateway that
 * only forwards does not carry them, about 1.9 MiB of live heap measured (issue: Pi-class efficiency).
 */
export async function loadTransformChain(config: Pick<Config, 'transforms' | 'rules' | 'pipeline'>, ctx: TransformContext): Promise<LoadedChain> {
  const dropResends = config.pipeline.dropResends;
  if (config.transforms.length === 0 && config.rules.length === 0) return { chain: TransformChain.fromConfig([], ctx, { dropResends }), ruleNames: [] };
  // rule-transform registers the shipped transforms too (a rule's stages are built from them).
  const { buildRules } = await import('../analytics/rules/rule-transform.js');
  const rules = buildRules(config.rules);
  return { chain: TransformChain.fromConfig(config.transforms, ctx, { dropResends, rules }), ruleNames: rules.map((r) => r.name) };
}
