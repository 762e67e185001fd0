/**
 * A per-client token bucket for PUBLISH packets. Over the rate, the next publish is not refused but its
 * authorization is delayed: aedes reads nothing more from that socket until the callback (see FACTS.md), so
 * the delay becomes TCP backpressure on the device, which keeps its readings, instead of a disconnect that
 * would make it reconnect and resend. MQTT 3.1.1 has no way to tell a client to slow down (MQTT 5's
 * Receive Maximum is the closest), so pacing the acknowledgements is the gentle option.
 */
export class PublishPacer {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /**
   * Takes one token and returns how long the publish must wait (0: at once). Several publishes from one
   * socket read are authorized concurrently, so the tokens may go negative: each caller waits its turn.
   */
  take(now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}
