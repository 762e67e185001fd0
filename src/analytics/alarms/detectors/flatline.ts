import type { Detector, Evaluation } from './detector.js';

export interface FlatlineOptions {
  epsilon: number;
  readings?: number | undefined;
  ms?: number | undefined;
}

/** The value the series has stayed near, since when, and how many readings in a row. */
export type FlatlineState = { ref: number | null; since: number; count: number };

/**
 * A stuck sensor: no change beyond `epsilon` from the value the flat run started at, for `readings` readings
 * or `ms` milliseconds (whichever is reached first). Time alone can raise it (a sensor that repeats itself
 * slowly); any real change clears it.
 */
export function flatlineDetector(o: FlatlineOptions): Detector<FlatlineState> {
  const judge = (state: FlatlineState, now: number): Evaluation => {
    const byCount = o.readings !== undefined && state.count >= o.readings;
    const byTime = o.ms !== undefined && now - state.since >= o.ms;
    return { breach: byCount || byTime, value: state.ref ?? 0, threshold: o.epsilon };
  };
  return {
    kind: 'flatline',
    initial: (now) => ({ ref: null, since: now, count: 0 }),
    observe(state, value, now): Evaluation {
      if (state.ref === null || Math.abs(value - state.ref) > o.epsilon) {
        state.ref = value;
        state.since = now;
        state.count = 1;
        return { breach: false, value, threshold: o.epsilon };
      }
      state.count += 1;
      return { ...judge(state, now), value };
    },
    elapse(state, now): Evaluation | null {
      if (state.ref === null || o.ms === undefined) return null;
      return judge(state, now);
    },
  };
}
