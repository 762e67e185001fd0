import type { Detector, Evaluation } from './detector.js';

export interface ThresholdOptions {
  direction: 'above' | 'below';
  raise: number;
  clear?: number | undefined;
}

/** A fixed level with hysteresis: an inactive series is judged by `raise`, a raised one by `clear`. */
export function thresholdDetector(o: ThresholdOptions): Detector<null> {
  const clear = o.clear ?? o.raise;
  const above = o.direction === 'above';
  return {
    kind: 'threshold',
    initial: () => null,
    observe(_state, value, _now, active): Evaluation {
      if (active) return { breach: above ? value > clear : value < clear, value, threshold: clear };
      return { breach: above ? value >= o.raise : value <= o.raise, value, threshold: o.raise };
    },
  };
}
