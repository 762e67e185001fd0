import { editDistance } from '../core/edit-distance.js';
import { z } from 'zod';
import { TidegateError } from '../core/errors.js';
import type { Transform } from './transform.js';

/** What a transform type contributes: the config slice it accepts and how to build it from that slice. */
export interface TransformDefinition<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** The slice of `transforms[i]` besides `type`; validated before the factory runs. */
  readonly schema: S;
  create(config: z.infer<S>, id: string): Transform;
}

const definitions = new Map<string, TransformDefinition>();

/**
 * Makes a transform type configurable. A new transform lives in its own file with its schema slice and
 * factory, and needs only this call to work in `transforms:`.
 */
export function registerTransform<S extends z.ZodType>(definition: TransformDefinition<S>): void {
  if (definitions.has(definition.type)) throw new TidegateError('ERR_CONFIG_INVALID', `transform type "${definition.type}" is registered twice`);
  definitions.set(definition.type, definition as unknown as TransformDefinition);
}

export function transformDefinition(type: string): TransformDefinition | undefined {
  return definitions.get(type);
}

export function transformTypes(): string[] {
  return [...definitions.keys()].sort();
}

/**
 * The config entry of one transform: a `type` the registry knows plus that type's own keys. Checked against
 * the registry when the config is validated, so a later registration is honoured without editing this schema.
 */
export const transformEntrySchema = z.looseObject({ type: z.string().min(1).describe('The transform type; the entry\'s other keys are that type\'s own.') }).superRefine((entry, ctx) => {
  const definition = definitions.get(entry.type);
  if (!definition) {
    const known = transformTypes();
    const nearest = known.find((t) => editDistance(t, entry.type) <= Math.max(1, Math.floor(entry.type.length / 3)));
    ctx.addIssue({ code: 'custom', path: ['type'], message: `unknown transform type "${entry.type}"${nearest ? ` (did you mean "${nearest}"?)` : ''} (known: ${known.join(', ') || 'none'})` });
    return;
  }
  const { type: _type, ...rest } = entry;
  const parsed = definition.schema.safeParse(rest);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path as PropertyKey[];
      // Unknown keys stay unknown keys, so the config loader can suggest the key that was meant.
      if (issue.code === 'unrecognized_keys') ctx.addIssue({ code: 'unrecognized_keys', keys: issue.keys, path, message: issue.message });
      else ctx.addIssue({ code: 'custom', path, message: issue.message });
    }
  }
});

export type TransformEntry = z.infer<typeof transformEntrySchema>;
