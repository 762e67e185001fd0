/**
 * The alarm state machine of one (rule, key):
 *
 *   inactive ──breach──► pending ──held raiseHoldMs──► active ──no breach──► clearing ──held clearHoldMs──► inactive
 *                          │ no breach                   ▲                      │ breach
 *                          ▼                             └──────────────────────┘
 *                       inactive
 *
 * One raise per episode: flapping between active and clearing stays in the same episode (nothing is
 * recorded), and after a clear no new episode starts within `minReraiseMs`. Shelving suppresses raises
 * until a time (an alarm already active stays active, so its clear is still recorded); acknowledging marks
 * the active alarm as seen (`active-acknowledged`). Only transitions an operator or a consumer cares about
 * are returned: raised, cleared, acknowledged, shelved, unshelved.
 */
export type AlarmPhase = 'inactive' | 'pending' | 'active' | 'clearing';
export type Transition = 'raised' | 'cleared' | 'acknowledged' | 'shelved' | 'unshelved';
export const TRANSITIONS: readonly Transition[] = ['raised', 'cleared', 'acknowledged', 'shelved', 'unshelved'];

/** The machine's whole state, a plain JSON value (checkpointed as is). */
export interface AlarmState {
  phase: AlarmPhase;
  /** When the current pending or clearing phase began. */
  since: number;
  acknowledged: boolean;
  /** The current episode's raise time (active and clearing). */
  raisedAt: number | null;
  /** The last clear, for the re-raise interval. */
  clearedAt: number | null;
  /** Raises are suppressed until this time. */
  shelvedUntil: number | null;
}

export interface MachineTiming {
  raiseHoldMs: number;
  clearHoldMs: number;
  minReraiseMs: number;
}

export const initialAlarmState = (now: number): AlarmState => ({ phase: 'inactive', since: now, acknowledged: false, raisedAt: null, clearedAt: null, shelvedUntil: null });

/** Whether the alarm is raised (active or on its way to clearing). */
export const isRaised = (s: AlarmState): boolean => s.phase === 'active' || s.phase === 'clearing';

/** The state as records and operators name it. */
export function stateName(s: AlarmState): string {
  if (s.phase === 'active' && s.acknowledged) return 'active-acknowledged';
  return s.phase;
}

/**
 * Feeds one judgement (`breach`; null = cannot judge, nothing changes) at `now`; returns the recorded
 * transitions. Also used by the ticker with the phase's own judgement, so hold times end with no reading.
 */
export function step(s: AlarmState, breach: boolean | null, now: number, t: MachineTiming): Transition[] {
  const out: Transition[] = [];
  if (s.shelvedUntil !== null && now >= s.shelvedUntil) {
    s.shelvedUntil = null;
    out.push('unshelved');
  }
  if (breach === null) return out;
  switch (s.phase) {
    case 'inactive':
      if (!breach) break;
      s.phase = 'pending';
      s.since = now;
      if (mayRaise(s, now, t)) out.push(raise(s, now));
      break;
    case 'pending':
      if (!breach) {
        s.phase = 'inactive';
        s.since = now;
      } else if (mayRaise(s, now, t)) out.push(raise(s, now));
      break;
    case 'active':
      if (breach) break;
      s.phase = 'clearing';
      s.since = now;
      if (now - s.since >= t.clearHoldMs) out.push(clear(s, now));
      break;
    case 'clearing':
      if (breach) s.phase = 'active';
      else if (now - s.since >= t.clearHoldMs) out.push(clear(s, now));
      break;
  }
  return out;
}

/** What time alone changes: a pending alarm's hold ends, a clearing one's ends, a shelf expires. */
export function elapse(s: AlarmState, now: number, t: MachineTiming): Transition[] {
  if (s.phase === 'pending') return step(s, true, now, t);
  if (s.phase === 'clearing') return step(s, false, now, t);
  return step(s, null, now, t);
}

/** Marks a raised, unacknowledged alarm as seen; false when there is nothing to acknowledge. */
export function acknowledge(s: AlarmState): boolean {
  if (!isRaised(s) || s.acknowledged) return false;
  s.acknowledged = true;
  return true;
}

/** Suppresses raises until `until` (a time at or before now lifts the shelf). */
export function shelve(s: AlarmState, until: number, now: number): Transition | null {
  if (until <= now) {
    if (s.shelvedUntil === null) return null;
    s.shelvedUntil = null;
    return 'unshelved';
  }
  s.shelvedUntil = until;
  return 'shelved';
}

function mayRaise(s: AlarmState, now: number, t: MachineTiming): boolean {
  if (now - s.since < t.raiseHoldMs) return false;
  if (s.shelvedUntil !== null && now < s.shelvedUntil) return false;
  if (s.clearedAt !== null && now - s.clearedAt < t.minReraiseMs) return false;
  return true;
}

function raise(s: AlarmState, now: number): Transition {
  s.phase = 'active';
  s.raisedAt = now;
  s.acknowledged = false;
  return 'raised';
}

function clear(s: AlarmState, now: number): Transition {
  s.phase = 'inactive';
  s.since = now;
  s.clearedAt = now;
  s.acknowledged = false;
  return 'cleared';
}
