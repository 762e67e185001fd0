import { z } from 'zod';
import { filter, pass, type Transform, type TransformResult } from '../transform.js';
import { registerTransform } from '../registry.js';
import { withFields } from '../reading-copy.js';
import { compileGlobs } from '../../core/glob.js';
import type { PendingReading } from '../../buffer/types.js';

/**
 * `drop_fields`: removes named values from readings before they are buffered (a debug counter, a field that
 * must not leave the site). A reading left with no values at all is filtered (counted), since a reading
 * without values is not one the buffer accepts from a device either.
 */
export const dropFieldsSchema = z.strictObject({
  fields: z.array(z.string().min(1)).min(1).max(256).describe('Names of the values to remove; a reading left with no values is filtered (readings_filtered_total{reason="no_values_left"}).'),
  devices: z.array(z.string().min(1)).min(1).max(256).optional().describe("Only readings whose device id matches one of these globs (`*` any run, `?` one character); unset: every reading."),
});

export type DropFieldsConfig = z.infer<typeof dropFieldsSchema>;

export class DropFields implements Transform {
  private readonly fields: ReadonlySet<string>;
  private readonly devices: RegExp | null;

  constructor(
    readonly id: string,
    config: DropFieldsConfig,
  ) {
    this.fields = new Set(config.fields);
    this.devices = config.devices ? compileGlobs(config.devices) : null;
  }

  process(reading: PendingReading): TransformResult {
    if (this.devices && !this.devices.test(reading.deviceId)) return pass(reading);
    let values: PendingReading['values'] | null = null;
    for (const key of Object.keys(reading.values)) {
      if (!this.fields.has(key)) continue;
      values ??= { ...reading.values };
      delete values[key];
    }
    if (!values) return pass(reading);
    if (Object.keys(values).length === 0) return filter('no_values_left');
    return pass(withFields(reading, values, reading.tags));
  }
}

registerTransform({ type: 'drop_fields', schema: dropFieldsSchema, create: (config, id) => new DropFields(id, config) });
