import { z } from 'zod';
import { registerTransformSchema } from '../transform-schemas.js';

/** `drop_fields` (drop-fields.ts): the values to remove, and from which devices' readings. */
export const dropFieldsSchema = z.strictObject({
  fields: z.array(z.string().min(1)).min(1).max(256).describe('Names of the values to remove; a reading left with no values is filtered (readings_filtered_total{reason="no_values_left"}).'),
  devices: z.array(z.string().min(1)).min(1).max(256).optional().describe("Only readings whose device id matches one of these globs (`*` any run, `?` one character); unset: every reading."),
});

export type DropFieldsConfig = z.infer<typeof dropFieldsSchema>;

registerTransformSchema({ type: 'drop_fields', schema: dropFieldsSchema });
