import { z } from 'zod';
import { compileExpression, ExpressionError } from './expression.js';

/**
 * A CEL expression in config: compiled (parsed and type-checked) while the config is validated, so an error
 * names the key, the expression and the column before the gateway starts.
 */
export function expressionSchema(expect?: 'bool') {
  return z
    .string()
    .min(1)
    .max(4_096)
    .superRefine((source, ctx) => {
      try {
        compileExpression(source, expect);
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        ctx.addIssue({ code: 'custom', message: describeExpressionError(error) });
      }
    });
}

/** `expression "temperature >" at column 14: Unexpected token: EOF`. */
export function describeExpressionError(error: ExpressionError): string {
  const where = error.column !== undefined ? ` at column ${error.column}` : '';
  return `expression ${JSON.stringify(error.expression)}${where}: ${error.message}`;
}
