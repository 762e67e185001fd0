import type { Detector, Evaluation } from './detector.js';

export interface EwmaOptions {
  alpha: number;
  z: number;
  clearZ?: number | undefined;
  warmup: number;
  minStd: number;
}

export type EwmaState = { n: number; mean: number; variance: number };

/**
 * EWMA mean and variance (the incremental form in Finch, "Incremental calculation of weighted mean and
 * variance", 2009). Each value is scored against the baseline before it joins it; no judgement until
 * `warmup` values were learned. The value reported is the z-score.
 */
export function ewmaDetector(o: EwmaOptions): Detector<EwmaState> {
  const clearZ = o.clearZ ?? o.z;
  return {
    kind: 'ewma',
    initial: () => ({ n: 0, mean: 0, variance: 0 }),
    observe(state, value, _now, active): Evaluation {
      const threshold = active ? clearZ : o.z;
      let evaluation: Evaluation;
      if (state.n < o.warmup) evaluation = { breach: null, value: 0, threshold };
      else {
        const z = (value - state.mean) / Math.max(Math.sqrt(state.variance), o.minStd);
        evaluation = { breach: active ? Math.abs(z) >= clearZ : Math.abs(z) >= o.z, value: z, threshold };
      }
      if (state.n === 0) state.mean = value;
      else {
        const diff = value - state.mean;
        const increment = o.alpha * diff;
        state.mean += increment;
        state.variance = (1 - o.alpha) * (state.variance + diff * increment);
      }
      state.n += 1;
      return evaluation;
    },
  };
}
