import type { Detector, Evaluation } from './detector.js';

export interface RateOptions {
  windowMs: number;
  maxPerSecond: number;
  clearPerSecond?: number | undefined;
  direction: 'rise' | 'fall' | 'either';
  maxSamples: number;
}

/** Samples within the window, oldest first, as [time, value] pairs (compact in the checkpoint). */
export type RateState = { samples: Array<[number, number]> };

/**
 * Rate of change: the newest value against the oldest kept within the window, per second. The samples are
 * bounded (`maxSamples`, oldest dropped first), so a fast series measures over a shorter span rather than
 * growing without bound.
 */
export function rateDetector(o: RateOptions): Detector<RateState> {
  const clear = o.clearPerSecond ?? o.maxPerSecond;
  return {
    kind: 'rate',
    initial: () => ({ samples: [] }),
    observe(state, value, now, active): Evaluation {
      const samples = state.samples;
      while (samples.length > 0 && now - samples[0]![0] > o.windowMs) samples.shift();
      samples.push([now, value]);
      while (samples.length > o.maxSamples) samples.shift();
      const threshold = active ? clear : o.maxPerSecond;
      if (samples.length < 2) return { breach: active ? null : false, value: 0, threshold };
      const [t0, v0] = samples[0]!;
      const span = now - t0;
      // Two values at the same instant say nothing about a rate.
      if (span <= 0) return { breach: null, value: 0, threshold };
      const rate = ((value - v0) * 1000) / span;
      const signed = o.direction === 'rise' ? rate : o.direction === 'fall' ? -rate : Math.abs(rate);
      return { breach: active ? signed > clear : signed > o.maxPerSecond, value: rate, threshold };
    },
  };
}
