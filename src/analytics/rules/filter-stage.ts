import { filter, pass, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { registerTransform } from '../../pipeline/registry.js';
import type { FilterStageConfig } from './filter-schema.js';
import type { PendingReading } from '../../buffer/types.js';
import { compileExpression, type CompiledExpression } from './expression.js';
import { StageWarnings } from './stage-warnings.js';

/** `filter`: keeps the readings an expression holds for. */
export class FilterStage implements Transform {
  private readonly expr: CompiledExpression;
  private readonly warnings: StageWarnings;

  constructor(
    readonly id: string,
    config: FilterStageConfig,
  ) {
    this.expr = compileExpression(config.expr, 'bool');
    this.warnings = new StageWarnings(id);
  }

  attach(ctx: TransformContext): void {
    ctx.metrics.counter('rule_expression_errors_total', { stage: this.id });
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    let result: unknown;
    try {
      result = this.expr.evaluate(reading);
    } catch (error) {
      return this.failed(reading, ctx, (error as Error).message);
    }
    if (result === true) return pass(reading);
    if (result === false) return filter('expr_false');
    return this.failed(reading, ctx, `evaluated to ${JSON.stringify(result)}, not true or false`);
  }

  private failed(reading: PendingReading, ctx: TransformContext, why: string): TransformResult {
    ctx.metrics.inc('rule_expression_errors_total', { stage: this.id });
    this.warnings.warn(ctx.logger, 'eval', { deviceId: reading.deviceId, topic: reading.topic, expr: this.expr.source, error: firstLine(why) }, 'a filter expression could not be evaluated on a reading; the reading is filtered (expression_error)');
    return filter('expression_error');
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

registerTransform<FilterStageConfig>({ type: 'filter', create: (config, id) => new FilterStage(id, config) });
