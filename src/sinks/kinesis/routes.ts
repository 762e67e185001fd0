import type { StoredRecord } from '../../queue/types.js';

/** What a routing rule matches on; every given condition must hold. */
export interface RouteMatch {
  lane?: 'alarm' | 'telemetry';
  /** Device id glob: `*` any run of characters, `?` one character. */
  deviceId?: string;
  /** MQTT topic filter (`+` one level, `#` the rest) on the topic the reading arrived on. */
  topic?: string;
}

/** True when an MQTT topic filter matches a topic name (MQTT 3.1.1 §4.7.1). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/** The topic of a stored record (it is in the record's JSON: `{"id":..,"deviceId":..,"topic":..}`). */
function topicOf(record: StoredRecord): string {
  try {
    const topic = (JSON.parse(record.data.toString('utf8')) as { topic?: unknown }).topic;
    return typeof topic === 'string' ? topic : '';
  } catch {
    return '';
  }
}

/** Compiles a rule into a predicate; the topic is read from the record only for rules that need it. */
export function compileRouteMatch(match: RouteMatch): (record: StoredRecord) => boolean {
  const device = match.deviceId !== undefined ? globToRegExp(match.deviceId) : null;
  return (record) =>
    (match.lane === undefined || record.lane === match.lane) &&
    (device === null || device.test(record.partitionKey)) &&
    (match.topic === undefined || topicMatches(match.topic, topicOf(record)));
}
