import type { StoredRecord } from '../../buffer/types.js';

/** What a routing rule matches on; every given condition must hold. */
export interface RouteMatch {
  lane?: 'alarm' | 'telemetry';
  /** Device id glob: `*` any run of characters, `?` one character. */
  deviceId?: string;
  /** MQTT topic filter (`+` one level, `#` the rest) on the topic the reading arrived on. */
  topic?: string;
  /** Record kind (`reading` when the record carries none). */
  kind?: 'reading' | 'aggregate' | 'alarm' | 'derived';
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

/** The topic and kind of a stored record (they are in the record's JSON: `{"id":..,"deviceId":..,"topic":..}`). */
function fieldsOf(record: StoredRecord): { topic: string; kind: string } {
  try {
    const doc = JSON.parse(record.data.toString('utf8')) as { topic?: unknown; kind?: unknown };
    return { topic: typeof doc.topic === 'string' ? doc.topic : '', kind: typeof doc.kind === 'string' ? doc.kind : 'reading' };
  } catch {
    return { topic: '', kind: 'reading' };
  }
}

/** Compiles a rule into a predicate; the record's JSON is read only for rules that match on topic or kind. */
export function compileRouteMatch(match: RouteMatch): (record: StoredRecord) => boolean {
  const device = match.deviceId !== undefined ? globToRegExp(match.deviceId) : null;
  const readsBody = match.topic !== undefined || match.kind !== undefined;
  return (record) => {
    if (match.lane !== undefined && record.lane !== match.lane) return false;
    if (device !== null && !device.test(record.partitionKey)) return false;
    if (!readsBody) return true;
    const { topic, kind } = fieldsOf(record);
    return (match.topic === undefined || topicMatches(match.topic, topic)) && (match.kind === undefined || kind === match.kind);
  };
}
