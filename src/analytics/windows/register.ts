import { registerTransform } from '../../pipeline/registry.js';
import type { WindowConfig } from './schema.js';
import { WindowTransform } from './window-transform.js';

registerTransform<WindowConfig>({ type: 'window', create: (config, id) => new WindowTransform(id, config) });
