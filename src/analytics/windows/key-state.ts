import type { ReadingValue } from '../../normalize/reading.js';
import type { FoldInput, WindowAcc } from './aggregates.js';

/**
 * One open window of a key. Time windows cover event time [start, end); count windows cover reading indexes
 * [start, end) of their key. Sliding windows hold no accumulator: their contents are computed from the key's
 * log when they close, since each overlaps many others.
 */
export interface OpenWindow {
  /** Creation order over all keys: the oldest is closed first when maxOpenWindows is reached. */
  seq: number;
  start: number;
  end: number;
  acc: WindowAcc | null;
}

/** Everything a window transform keeps for one key; checkpointed as one JSON value per key. */
export interface KeyState {
  /** The key's identity: the group-by values as JSON, also its state key. */
  readonly id: string;
  readonly key: Record<string, ReadingValue>;
  /**
   * Event time before which this key's windows are closed: the newest event time seen for the key minus
   * allowedLatenessMs, raised further when windows close early (idle, bound, stop) so a closed range is never
   * reopened. Null before the first reading. Per key, so an idle device never holds back the others.
   */
  watermark: number | null;
  /** Gateway time (receivedAt) of the key's last reading: when it went idle. */
  lastArrival: number;
  /** Readings taken so far: the arrival index, and for count windows the position in the stream. */
  arrivals: number;
  windows: OpenWindow[];
  /** Sliding windows only: the readings any open or future window of the key may still contain. */
  log?: FoldInput[];
  /** Sliding windows only: the newest event time of a reading the bound dropped; windows starting at or before it lack it. */
  droppedUpTo?: number;
  /** Count windows only: readings since the windows last restarted (after an early close). */
  taken?: number;
}

export function newKeyState(id: string, key: Record<string, ReadingValue>, arrival: number): KeyState {
  return { id, key, watermark: null, lastArrival: arrival, arrivals: 0, windows: [] };
}

export function holdsData(state: KeyState): boolean {
  return state.windows.length > 0 || (state.log?.length ?? 0) > 0;
}
