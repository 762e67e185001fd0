import { registerTransform } from '../../pipeline/registry.js';
import { DetectTransform } from './detect-transform.js';
import { detectSchema } from './schema.js';

// `type: detect`, in `transforms:` and in rule stages alike.
registerTransform({ type: 'detect', schema: detectSchema, create: (config, id) => new DetectTransform(id, config) });
