/**
 * A detector judges one series (a device's field, or a group's): each value it is shown, and for some the
 * passing of time, says whether the alarm condition holds. Its state is a plain JSON value, so the alarm
 * registry checkpoints it with the alarm state and a restart carries on with the same baseline.
 *
 * `active` is whether the series' alarm is raised: detectors with hysteresis judge a raised alarm by its
 * clear level, an inactive one by its raise level.
 */
export interface Detector<S = unknown> {
  readonly kind: string;
  initial(now: number): S;
  /** Judges one value (and learns from it). */
  observe(state: S, value: number, now: number, active: boolean): Evaluation;
  /** Detectors that notice time passing without a reading (silence, a flat line by time). */
  elapse?(state: S, now: number, active: boolean): Evaluation | null;
  /**
   * Called on the first tick after the state was restored: the time the gateway was down is not the series'
   * silence (its readings could not arrive), so detectors that judge silence start counting again from now.
   */
  resume?(state: S, now: number): void;
}

export interface Evaluation {
  /** Whether the condition holds; null while the detector cannot judge yet (a statistical warm-up). */
  readonly breach: boolean | null;
  /** The value the judgement is about (the reading's value, a rate, a z-score, a silence in ms). */
  readonly value: number;
  /** The level it was compared with. */
  readonly threshold: number;
}
