import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * The JSON Schema of the config file, generated from the zod schema (the single source of truth), for
 * editors and config tooling. `config/tidegate.schema.json` is this, checked in; a test keeps it in sync.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'tidegate configuration',
  };
}
