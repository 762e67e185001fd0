import type { Detector, Evaluation } from './detector.js';

export interface SeasonalOptions {
  alpha: number;
  z: number;
  clearZ?: number | undefined;
  warmup: number;
  minStd: number;
  utcOffsetMinutes: number;
}

/** Per hour of the week (0 = Sunday 00:00–01:00 local), the count, EWMA mean and variance seen in that hour. */
export type SeasonalState = { slots: Record<string, [number, number, number]> };

export const HOURS_PER_WEEK = 168;

/**
 * A weekly baseline: a value is scored against what the series usually does in the same hour of the week
 * (a building's power on a Monday morning against other Monday mornings, not against Sunday night). Each of
 * the 168 slots keeps an EWMA mean and variance, learned only from values of its hour; a slot judges nothing
 * until it has `warmup` values, so the first weeks are quiet. State is bounded: at most 168 slots a series.
 */
export function seasonalDetector(o: SeasonalOptions): Detector<SeasonalState> {
  const clearZ = o.clearZ ?? o.z;
  return {
    kind: 'seasonal',
    initial: () => ({ slots: {} }),
    observe(state, value, now, active): Evaluation {
      const slot = String(hourOfWeek(now, o.utcOffsetMinutes));
      const threshold = active ? clearZ : o.z;
      const [n, mean, variance] = state.slots[slot] ?? [0, 0, 0];
      let evaluation: Evaluation;
      if (n < o.warmup) evaluation = { breach: null, value: 0, threshold };
      else {
        const z = (value - mean) / Math.max(Math.sqrt(variance), o.minStd);
        evaluation = { breach: active ? Math.abs(z) >= clearZ : Math.abs(z) >= o.z, value: z, threshold };
      }
      if (n === 0) state.slots[slot] = [1, value, 0];
      else {
        const diff = value - mean;
        const increment = o.alpha * diff;
        state.slots[slot] = [n + 1, mean + increment, (1 - o.alpha) * (variance + diff * increment)];
      }
      return evaluation;
    },
  };
}

/** 0–167: the day of the week (Sunday first) times 24 plus the hour, at the configured offset from UTC. */
export function hourOfWeek(epochMs: number, utcOffsetMinutes: number): number {
  const local = new Date(epochMs + utcOffsetMinutes * 60_000);
  return local.getUTCDay() * 24 + local.getUTCHours();
}
