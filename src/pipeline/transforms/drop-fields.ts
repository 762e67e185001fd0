import { filter, pass, type Transform, type TransformResult } from '../transform.js';
import { registerTransform } from '../registry.js';
import { withFields } from '../reading-copy.js';
import { compileGlobs } from '../../core/glob.js';
import type { PendingReading } from '../../buffer/types.js';
import type { DropFieldsConfig } from './drop-fields-schema.js';

/**
 * `drop_fields`: removes named values from readings before they are buffered (a debug counter, a field that
 * must not leave the site). A reading left with no values at all is filtered (counted), since a reading
 * without values is not one the buffer accepts from a device either.
 */
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

registerTransform<DropFieldsConfig>({ type: 'drop_fields', create: (config, id) => new DropFields(id, config) });
