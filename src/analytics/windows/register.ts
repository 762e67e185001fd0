import { registerTransform } from '../../pipeline/registry.js';
import { windowSchema } from './schema.js';
import { WindowTransform } from './window-transform.js';

registerTransform({ type: 'window', schema: windowSchema, create: (config, id) => new WindowTransform(id, config) });
