import { z } from 'zod';
import { editDistance } from '../core/edit-distance.js';
import { TidegateError } from '../core/errors.js';

/** What a transform type accepts in config: the keys of `transforms[i]` besides `type`. */
export interface TransformSchema<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** The slice of `transforms[i]` besides `type`; its output (defaults filled in) is what the factory gets. */
  readonly schema: S;
}

// The config side of the transform registry; the factories are in registry.ts. Kept apart so the running
// gateway never loads zod: see registry.ts.
const schemas = new Map<string, TransformSchema>();

/** Makes a transform type configurable: its entries are validated against `schema` when the config loads. */
export function registerTransformSchema<S extends z.ZodType>(definition: TransformSchema<S>): void {
  if (schemas.has(definition.type)) throw new TidegateError('ERR_CONFIG_INVALID', `transform type "${definition.type}" has its schema registered twice`);
  schemas.set(definition.type, definition);
}

export function transformSchema(type: string): TransformSchema | undefined {
  return schemas.get(type);
}

/** The configurable types, sorted. */
export function transformSchemaTypes(): string[] {
  return [...schemas.keys()].sort();
}

/**
 * The config entry of one transform: a `type` the registry knows plus that type's own keys. Checked against
 * the registry when the config is validated, so a later registration is honoured without editing this schema;
 * the output is the entry with the type's defaults filled in, ready for its factory.
 */
export const transformEntrySchema = z.looseObject({ type: z.string().min(1).describe('The transform type; the entry\'s other keys are that type\'s own.') }).transform((entry, ctx) => {
  const definition = schemas.get(entry.type);
  if (!definition) {
    const known = transformSchemaTypes();
    const nearest = known.find((t) => editDistance(t, entry.type) <= Math.max(1, Math.floor(entry.type.length / 3)));
    ctx.addIssue({ code: 'custom', path: ['type'], message: `unknown transform type "${entry.type}"${nearest ? ` (did you mean "${nearest}"?)` : ''} (known: ${known.join(', ') || 'none'})` });
    return z.NEVER;
  }
  const { type, ...rest } = entry;
  const parsed = definition.schema.safeParse(rest);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path as PropertyKey[];
      // Unknown keys stay unknown keys, so the config loader can suggest the key that was meant.
      if (issue.code === 'unrecognized_keys') ctx.addIssue({ code: 'unrecognized_keys', keys: issue.keys, path, message: issue.message });
      else ctx.addIssue({ code: 'custom', path, message: issue.message });
    }
    return z.NEVER;
  }
  return { type, ...(parsed.data as Record<string, unknown>) };
});
