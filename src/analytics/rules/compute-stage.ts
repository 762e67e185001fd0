import { pass, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { registerTransform } from '../../pipeline/registry.js';
import type { ComputeStageConfig } from './compute-schema.js';
import { withFields } from '../../pipeline/reading-copy.js';
import type { PendingReading } from '../../buffer/types.js';
import type { ReadingValue } from '../../normalize/reading.js';
import { asReadingValue, compileExpression, RESERVED_NAMES, type CompiledExpression } from './expression.js';
import { StageWarnings } from './stage-warnings.js';

/** `compute`: adds derived values (unit conversions, power, dew point) to each reading. */
export class ComputeStage implements Transform {
  private readonly fields: readonly (readonly [string, CompiledExpression])[];
  private readonly warnings: StageWarnings;

  constructor(
    readonly id: string,
    config: ComputeStageConfig,
  ) {
    this.fields = Object.entries(config.fields).map(([name, source]) => [name, compileExpression(source)] as const);
    this.warnings = new StageWarnings(id);
  }

  attach(ctx: TransformContext): void {
    ctx.metrics.counter('rule_expression_errors_total', { stage: this.id });
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    // One copy per reading; each field sees the ones computed before it.
    const values: Record<string, ReadingValue> = { ...reading.values };
    const current = withFields(reading, values, reading.tags);
    for (const [name, expr] of this.fields) {
      let value: ReturnType<typeof asReadingValue>;
      try {
        value = asReadingValue(expr.evaluate(current));
      } catch (error) {
        this.failed(reading, ctx, name, expr, (error as Error).message);
        continue;
      }
      if (typeof value === 'object') {
        this.failed(reading, ctx, name, expr, value.invalid);
        continue;
      }
      values[name] = value;
    }
    return pass(current);
  }

  private failed(reading: PendingReading, ctx: TransformContext, field: string, expr: CompiledExpression, why: string): void {
    ctx.metrics.inc('rule_expression_errors_total', { stage: this.id });
    this.warnings.warn(ctx.logger, field, { deviceId: reading.deviceId, topic: reading.topic, field, expr: expr.source, error: why.split('\n')[0] }, 'a computed field could not be evaluated on a reading; the field is left out and the reading goes on');
  }
}

registerTransform<ComputeStageConfig>({ type: 'compute', create: (config, id) => new ComputeStage(id, config) });
