import { DetectTransform } from '../../src/analytics/alarms/detect-transform.js';
import { detectSchema } from '../../src/analytics/alarms/schema.js';
import { describeTransform } from './transform.contract.js';

describeTransform('detect (threshold)', () => new DetectTransform('detect#0', detectSchema.parse({ rule: 'hot', field: 'temp', detector: { kind: 'threshold', raise: 30, clear: 28 } })));
describeTransform('detect (missing, consume)', () => new DetectTransform('detect#0', detectSchema.parse({ rule: 'silent', readings: 'consume', detector: { kind: 'missing', expectedIntervalMs: 1_000 } })));
describeTransform('detect (ewma)', () => new DetectTransform('detect#0', detectSchema.parse({ rule: 'odd', field: 'hum', detector: { kind: 'ewma', warmup: 3 } })));
