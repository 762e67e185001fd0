/**
 * Alarm transitions as the gateway's detectors publish them: a stream record
 * of `kind: "alarm"`, or the same JSON as the payload of an MQTT message on
 * tidegate/alarms/<rule>/<deviceId> (retained while active; an empty retained
 * payload means cleared). Only what scoring needs is read:
 *   { kind: "alarm", deviceId, ts, result: { rule, key: { deviceId, field }, transition, episode, raisedAt } }
 * Anything else is counted, not guessed at.
 */

export const ALARM_TRANSITIONS = ['raised', 'cleared', 'acknowledged', 'shelved', 'unshelved'] as const;
export type AlarmTransition = (typeof ALARM_TRANSITIONS)[number];

export interface AlarmEvent {
  deviceId: string;
  /** The field the alarm is about (result.key.field); null when its key has none. */
  field: string | null;
  rule: string;
  transition: AlarmTransition;
  /** Time of the transition (epoch ms): for a raise, result.raisedAt when present, else ts. */
  at: number;
  /** The alarm's episode (result.episode): the same raise seen twice has the same one. */
  episode: string | null;
}

export type AlarmParse = { alarm: AlarmEvent } | { skip: 'notAlarm' | 'malformed' };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Reads one decoded record or payload. */
export function alarmFromJson(doc: unknown): AlarmParse {
  if (!isObject(doc) || doc.kind !== 'alarm') return { skip: 'notAlarm' };
  const result = doc.result;
  if (!isObject(result)) return { skip: 'malformed' };
  const key = isObject(result.key) ? result.key : {};
  const deviceId = typeof key.deviceId === 'string' ? key.deviceId : doc.deviceId;
  const transition = result.transition;
  if (typeof deviceId !== 'string' || deviceId === '' || !ALARM_TRANSITIONS.includes(transition as AlarmTransition)) return { skip: 'malformed' };
  const at = transition === 'raised' && finite(result.raisedAt) ? result.raisedAt : doc.ts;
  if (!finite(at)) return { skip: 'malformed' };
  const episode = typeof result.episode === 'string' || finite(result.episode) ? String(result.episode) : null;
  return {
    alarm: {
      deviceId,
      field: typeof key.field === 'string' && key.field !== '' ? key.field : null,
      rule: typeof result.rule === 'string' ? result.rule : '',
      transition: transition as AlarmTransition,
      at,
      episode,
    },
  };
}

const decoder = new TextDecoder();

/** A stream record's or MQTT payload's bytes; non-JSON counts as malformed only if it could be an alarm at all. */
export function alarmFromBytes(data: Uint8Array): AlarmParse {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(data));
  } catch {
    return { skip: 'notAlarm' };
  }
  return alarmFromJson(doc);
}

export interface AlarmCollection {
  /** Distinct raises: one per (rule, device, field, episode). */
  raises: AlarmEvent[];
  /** Raises seen again (a redelivered record, a retained message re-read). */
  repeatedRaises: number;
  /** Other transitions (cleared, acknowledged, shelved, unshelved), by kind. */
  otherTransitions: Partial<Record<AlarmTransition, number>>;
  /** Empty MQTT payloads: an alarm cleared (its retained message removed). */
  emptyPayloads: number;
  notAlarms: number;
  malformed: number;
}

/** Gathers alarm events, keeping each raise once. */
export class AlarmCollector {
  private readonly seen = new Set<string>();
  readonly result: AlarmCollection = { raises: [], repeatedRaises: 0, otherTransitions: {}, emptyPayloads: 0, notAlarms: 0, malformed: 0 };

  add(parsed: AlarmParse): void {
    const r = this.result;
    if ('skip' in parsed) {
      if (parsed.skip === 'notAlarm') r.notAlarms++;
      else r.malformed++;
      return;
    }
    const a = parsed.alarm;
    if (a.transition !== 'raised') {
      r.otherTransitions[a.transition] = (r.otherTransitions[a.transition] ?? 0) + 1;
      return;
    }
    // Without an episode, the raise time tells two raises of one alarm apart.
    const id = [a.rule, a.deviceId, a.field ?? '', a.episode ?? `@${a.at}`].join('\u0000');
    if (this.seen.has(id)) {
      r.repeatedRaises++;
      return;
    }
    this.seen.add(id);
    r.raises.push(a);
  }

  addEmptyPayload(): void {
    this.result.emptyPayloads++;
  }
}
