import type { Detector, Evaluation } from './detector.js';

export type MissingState = { lastSeen: number };

/**
 * Silence: raised from `elapse` (the ticker, on the injected clock) when the series has sent nothing for
 * longer than `expectedIntervalMs`; the next reading clears it. The value is the silence in ms.
 */
export function missingDetector(o: { expectedIntervalMs: number }): Detector<MissingState> {
  return {
    kind: 'missing',
    initial: (now) => ({ lastSeen: now }),
    observe(state, _value, now): Evaluation {
      state.lastSeen = now;
      return { breach: false, value: 0, threshold: o.expectedIntervalMs };
    },
    resume(state, now): void {
      state.lastSeen = Math.max(state.lastSeen, now);
    },
    elapse(state, now): Evaluation {
      const silence = now - state.lastSeen;
      return { breach: silence > o.expectedIntervalMs, value: silence, threshold: o.expectedIntervalMs };
    },
  };
}
