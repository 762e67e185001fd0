/**
 * A count of operations under way, and a wait for it to reach zero (a source's stop lets its admissions
 * finish). A counter, not a set of promises: on the MQTT hot path a tracked promise cost a `finally`
 * promise, two closures and a set entry per reading (issue: Pi-class efficiency).
 */
export class InFlight {
  private count = 0;
  private idleWaiters: Array<() => void> = [];

  get size(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  /** Ends one operation begun with `begin`; an extra `end` is a bug and throws rather than going negative. */
  end(): void {
    if (this.count === 0) throw new Error('InFlight.end() without a matching begin()');
    this.count--;
    if (this.count === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once nothing is in flight (at once when nothing is); the caller bounds the wait. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
