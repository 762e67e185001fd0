import { z } from 'zod';
import { transformSchema, transformSchemaTypes } from '../pipeline/transform-schemas.js';
import { configSchema } from './schema.js';

const options = { io: 'input', unrepresentable: 'any' } as const;

/**
 * The JSON Schema of the config file, generated from the zod slices (the single source of truth), for
 * editors and config tooling; every key carries its description. `config/tidegate.schema.json` is this,
 * checked in; a test keeps it in sync.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = { ...z.toJSONSchema(configSchema, options), title: 'tidegate configuration' } as Record<string, any>;
  const transforms = schema.properties?.transforms;
  if (transforms?.items) transforms.items = transformEntriesJsonSchema(transforms.items.properties?.type?.description);
  return schema;
}

/**
 * `transforms[]` is validated against the registry at load time (so a later registration needs no edit
 * here); for editors, each registered type's own slice is spelled out, told apart by its `type`.
 */
export function transformEntriesJsonSchema(typeDescription: string | undefined): Record<string, unknown> {
  return {
    anyOf: transformSchemaTypes().map((type) => {
      const { $schema: _, ...slice } = z.toJSONSchema(transformSchema(type)!.schema, options) as Record<string, any>;
      return {
        ...slice,
        properties: { type: { const: type, ...(typeDescription ? { description: typeDescription } : {}) }, ...slice.properties },
        required: ['type', ...(slice.required ?? [])],
      };
    }),
  };
}
