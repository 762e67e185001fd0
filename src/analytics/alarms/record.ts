import type { JsonValue } from '../../normalize/reading.js';
import type { ProducedRecord } from '../../pipeline/transform.js';
import type { Severity } from './schema.js';
import { isRaised, stateName, type AlarmState, type Transition } from './state-machine.js';

/** The record topic's fixed prefix; the local broker notification has its own, configurable one. */
export const ALARM_RECORD_TOPIC_PREFIX = 'tidegate/alarms';

/** A reading that contributed to a judgement, as the device numbered and timed it. */
export interface ReadingRef {
  deviceId: string;
  seq?: number;
  ts: number;
}

/** Series identity: the device (or the group key joined), the field, and the group's tag values. */
export interface SeriesKey {
  deviceId: string;
  field?: string;
  [tag: string]: string | undefined;
}

export interface AlarmFacts {
  rule: string;
  detector: string;
  severity: Severity;
  key: SeriesKey;
  state: AlarmState;
  value: number;
  threshold: number;
  readings: readonly ReadingRef[];
}

/** One topic level from any string: MQTT wildcards, the level separator and NUL would change its meaning. */
export function topicLevel(s: string): string {
  return s.replace(/[/+#\u0000]/g, '_') || '_';
}

/** The stable id of an episode: the rule, the key and when it was raised. */
export function episodeId(rule: string, deviceId: string, raisedAt: number): string {
  return `${rule}/${deviceId}/${raisedAt}`;
}

/**
 * The record of one transition, in the format consumers (and `device-sim audit`) read:
 * kind alarm, lane alarm, topic tidegate/alarms/<rule>/<deviceId>, `values.value`, and the details in `result`.
 */
export function alarmRecord(transition: Transition, facts: AlarmFacts, now: number): ProducedRecord {
  const { state, key } = facts;
  const deviceId = key.deviceId;
  // Shelving a quiet series belongs to no episode; a clear belongs to the one it ends.
  const raisedAt = isRaised(state) || transition === 'cleared' ? state.raisedAt : null;
  const keyJson: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(key)) if (v !== undefined) keyJson[k] = v;
  const result: Record<string, JsonValue> = {
    rule: facts.rule,
    detector: facts.detector,
    key: keyJson,
    transition,
    state: stateName(state),
    severity: facts.severity,
    value: finiteOrNull(facts.value),
    threshold: finiteOrNull(facts.threshold),
    episode: raisedAt !== null ? episodeId(facts.rule, deviceId, raisedAt) : null,
    raisedAt,
    readings: facts.readings.map((r) => ({ deviceId: r.deviceId, ts: r.ts, ...(r.seq !== undefined ? { seq: r.seq } : {}) })),
  };
  if (transition === 'cleared' && state.clearedAt !== null) result.clearedAt = state.clearedAt;
  if (state.shelvedUntil !== null) result.shelvedUntil = state.shelvedUntil;
  return {
    kind: 'alarm',
    lane: 'alarm',
    reading: {
      deviceId,
      topic: `${ALARM_RECORD_TOPIC_PREFIX}/${topicLevel(facts.rule)}/${topicLevel(deviceId)}`,
      ts: now,
      receivedAt: now,
      values: { value: Number.isFinite(facts.value) ? facts.value : 0 },
      result,
    },
  };
}

// JSON has no Infinity: a z-score over a zero spread is reported as null rather than corrupting the record.
function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}
