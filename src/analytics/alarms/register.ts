import { registerTransform } from '../../pipeline/registry.js';
import { DetectTransform } from './detect-transform.js';
import type { DetectConfig } from './schema.js';

// `type: detect`, in `transforms:` and in rule stages alike.
registerTransform<DetectConfig>({ type: 'detect', create: (config, id) => new DetectTransform(id, config) });
