import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * What the gateway hands a component when it starts it: the only way a component reaches shared services,
 * so a test can give it a ManualClock, a silent logger and its own Metrics.
 */
export interface ComponentContext {
  /** Already bound to the component (`component: <id>`); log through it, never through a global logger. */
  readonly logger: Logger;
  /** The gateway's metrics registry; counters are `*_total` by meaning. */
  readonly metrics: Metrics;
  /** All time the component reads or waits on comes from here (never Date.now/setTimeout directly). */
  readonly clock: Clock;
  /**
   * Aborts when the gateway begins to stop. Background loops end on it; `stop` is still called and is
   * where in-flight work is finished or abandoned.
   */
  readonly signal: AbortSignal;
}

/**
 * Every long-lived part of the gateway has the same two-step life.
 *
 * - `start` resolves once the component does its job (a listener is bound, a sink is reading). A component
 *   whose start throws is still stopped: the gateway registers it before starting it.
 * - `stop` finishes within the deadline: when it aborts, whatever is still in flight is abandoned (not
 *   acked, so the device sends it again). It is called at most once, in reverse start order.
 * - `health`, when present, reports by progress (is work getting through), not by liveness.
 *
 * A component that needs nothing from the context may declare `start()` without a parameter.
 */
export interface Component {
  readonly id: string;
  start(ctx: ComponentContext): Promise<void>;
  stop(deadline: AbortSignal): Promise<void>;
  health?(): HealthReport;
}

/** Health by progress: degraded components name their reason. */
export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: string[];
}
