import type { Detector, Evaluation } from './detector.js';

export interface MadOptions {
  window: number;
  z: number;
  clearZ?: number | undefined;
  warmup: number;
  minMad: number;
}

/** The last `window` values, oldest first. */
export type MadState = { values: number[] };

// 0.6745 is the 0.75 quantile of the standard normal: it makes the MAD comparable to a standard deviation
// (Iglewicz and Hoaglin, "How to Detect and Handle Outliers", 1993).
const MAD_SCALE = 0.6745;

/**
 * Median and median absolute deviation over a bounded window: a few outliers or a skewed distribution do
 * not drag the baseline the way they drag a mean. Each value is scored before it joins the window; the
 * value reported is the robust z-score.
 */
export function madDetector(o: MadOptions): Detector<MadState> {
  const clearZ = o.clearZ ?? o.z;
  return {
    kind: 'mad',
    initial: () => ({ values: [] }),
    observe(state, value, _now, active): Evaluation {
      const threshold = active ? clearZ : o.z;
      let evaluation: Evaluation;
      if (state.values.length < o.warmup) evaluation = { breach: null, value: 0, threshold };
      else {
        const med = median(state.values);
        const mad = Math.max(median(state.values.map((v) => Math.abs(v - med))), o.minMad);
        const z = (MAD_SCALE * (value - med)) / mad;
        evaluation = { breach: active ? Math.abs(z) >= clearZ : Math.abs(z) >= o.z, value: z, threshold };
      }
      state.values.push(value);
      if (state.values.length > o.window) state.values.shift();
      return evaluation;
    },
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
