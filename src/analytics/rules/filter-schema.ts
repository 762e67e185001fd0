import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';
import { expressionSchema } from './expression-schema.js';

/** `filter` (filter-stage.ts): the expression a reading must satisfy. */
export const filterStageSchema = z.strictObject({
  expr: expressionSchema('bool').describe(
    'A CEL expression that must be true for the reading to go on, e.g. `temperature > -40.0 && temperature < 125.0`. Readings for which it is false are filtered (reason expr_false); readings it cannot be evaluated on (a value it names is absent) are filtered as expression_error, counted in rule_expression_errors_total and logged at most once a minute.',
  ),
});

export type FilterStageConfig = z.infer<typeof filterStageSchema>;

registerTransformSchema({ type: 'filter', schema: filterStageSchema });
