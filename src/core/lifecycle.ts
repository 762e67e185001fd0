/** Every long-lived part of the gateway has the same two-step life. */
export interface Component {
  readonly id: string;
  start(): Promise<void>;
  /** Stops within the deadline: when it aborts, whatever is still in flight is abandoned (not acked). */
  stop(deadline: AbortSignal): Promise<void>;
}

/** Health by progress: degraded components name their reason. */
export interface HealthReport {
  status: 'ok' | 'degraded';
  reasons: string[];
}
