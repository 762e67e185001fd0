import { windowSchema } from '../../src/analytics/windows/schema.js';
import { WindowTransform } from '../../src/analytics/windows/window-transform.js';
import { describeTransform } from './transform.contract.js';

const make = (slice: Record<string, unknown>) => () => new WindowTransform('window#0', windowSchema.parse({ fields: ['temp', 'hum'], aggregates: ['mean', 'min', 'max', 'count', 'p95', 'rate'], ...slice }));

describeTransform('window (tumbling, per device)', make({ kind: 'tumbling', sizeMs: 5 }));
describeTransform('window (hopping, lateness 0: late readings to the side output)', make({ kind: 'hopping', sizeMs: 10, hopMs: 5, allowedLatenessMs: 0 }));
describeTransform('window (sliding)', make({ kind: 'sliding', sizeMs: 3 }));
describeTransform('window (session)', make({ kind: 'session', gapMs: 2, allowedLatenessMs: 0, late: 'pass' }));
describeTransform('window (count, sliding by 2)', make({ kind: 'count', count: 3, slide: 2 }));
describeTransform('window (processing time, a bound of 2 windows)', make({ kind: 'tumbling', sizeMs: 2, time: 'processing', maxOpenWindows: 2 }));
