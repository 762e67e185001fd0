import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';
import { RESERVED_NAMES } from './expression.js';
import { expressionSchema } from './expression-schema.js';

const fieldName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a value name: a letter or _, then letters, digits or _ (at most 64)')
  .refine((name) => !(RESERVED_NAMES as readonly string[]).includes(name), { message: `is reserved in expressions (${RESERVED_NAMES.join(', ')})` });

/** `compute` (compute-stage.ts): the values to add, each a CEL expression. */
export const computeStageSchema = z.strictObject({
  fields: z
    .record(fieldName, expressionSchema())
    .refine((fields) => Object.keys(fields).length >= 1 && Object.keys(fields).length <= 64, { message: 'between 1 and 64 fields' })
    .describe(
      'Values to add or replace, name → CEL expression, evaluated in order (a later one may use an earlier one): `power: voltage * current`, `temperature_f: temperature * 9 / 5 + 32`, `dew: dewpoint(temperature, humidity)`. A field whose expression fails on a reading (a value it names is absent) is left out of that reading, counted in rule_expression_errors_total and logged at most once a minute; the reading goes on.',
    ),
});

export type ComputeStageConfig = z.infer<typeof computeStageSchema>;

registerTransformSchema({ type: 'compute', schema: computeStageSchema });
