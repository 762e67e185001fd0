import { CREDENTIALS_ACTION } from '../aws/credentials.js';
import type { Logger } from '../core/logger.js';
import type { BufferStats } from '../buffer/types.js';
import type { DeliveryState } from '../sinks/kinesis/destination.js';

/** What the health model judges, read from the components at one moment. */
export interface HealthInputs {
  buffer: BufferStats;
  /** Appends waiting for space (whenFull: block). */
  waitingForSpace: number;
  oldestUndeliveredAgeMs: number | null;
  delivery: readonly DeliveryState[];
  /** Reasons other components report themselves (site brokers). */
  other: readonly string[];
}

export interface GatewayHealth {
  status: 'ok' | 'degraded';
  reasons: string[];
  /** Stable names of the causes in force, e.g. `sink_failing:kinesis:telemetry`, `buffer_full`, `credentials`. */
  causes: string[];
  oldestUndeliveredAgeMs: number | null;
}

export interface HealthModelOptions {
  /** Degraded when every call to a destination has failed for this long while readings wait. */
  failingAfterMs: number;
  /** Degraded when the oldest undelivered reading is older than this. */
  maxDeliveryLagMs: number;
  logger: Logger;
  now?: () => number;
}

// Drops (drop_oldest, drop_newest) keep the buffer_full cause for this long after the last one.
const FULL_HOLD_MS = 5_000;

interface Cause {
  key: string;
  reason: string;
}

/**
 * The one health model: /healthz, `tidegate status`, the dashboard and the stats line all ask it, so they
 * cannot disagree. It logs an ERROR saying what to fix when a cause begins (once per episode, however often
 * it is asked) and an INFO when it ends.
 */
export class HealthModel {
  private readonly active = new Map<string, string>();
  private droppedSeen = -1;
  private lastDropAt = -Infinity;
  private readonly now: () => number;

  constructor(private readonly opts: HealthModelOptions) {
    this.now = opts.now ?? Date.now;
  }

  evaluate(inputs: HealthInputs): GatewayHealth {
    const causes = this.causes(inputs);
    this.track(causes);
    return { status: causes.length > 0 ? 'degraded' : 'ok', reasons: causes.map((c) => c.reason), causes: causes.map((c) => c.key), oldestUndeliveredAgeMs: inputs.oldestUndeliveredAgeMs };
  }

  private causes(inputs: HealthInputs): Cause[] {
    const now = this.now();
    const { buffer } = inputs;
    const out: Cause[] = [];
    let credentials: string | null = null;
    let credentialsKind = '';
    for (const d of inputs.delivery) {
      const where = `${d.kind} ${d.name}`;
      if (d.operatorFailure) {
        // The default destination is named in the config's kinesis.streamName: its kind alone names it.
        out.push({ key: `sink_operator:${d.id}`, reason: `${d.routed ? `${where} ` : `${d.kind} `}${d.operatorFailure.code}: ${d.operatorFailure.action}` });
        continue;
      }
      if (d.lastFailure?.credentials) {
        // The AWS IoT credentials provider's own message says what to fix; the standard chain's does not.
        credentials = d.lastFailure.code === 'ERR_AWS_CREDENTIALS' ? `${d.kind} ${d.lastFailure.code}: ${d.lastFailure.message}` : `${CREDENTIALS_ACTION} (${d.lastFailure.message})`;
        credentialsKind = d.kind;
        continue;
      }
      if (d.failingSince !== null && d.lastFailure && buffer.buffered > 0 && now - d.failingSince >= this.opts.failingAfterMs) {
        const seconds = Math.round((now - d.failingSince) / 1000);
        out.push({
          key: `sink_failing:${d.id}`,
          reason: `${where}: every call has failed for ${seconds} s (last: ${d.lastFailure.code}: ${d.lastFailure.message}); ${buffer.buffered} readings wait in the buffer. ${adviceFor(d.lastFailure.code)}`,
        });
      }
    }
    if (credentials !== null) out.push({ key: 'credentials', reason: `${credentials}; readings stay buffered until ${credentialsKind} calls can be signed` });
    if (buffer.degraded) out.push({ key: 'buffer_quarantined', reason: buffer.degraded });
    const full = this.bufferFull(inputs, now);
    if (full) out.push({ key: 'buffer_full', reason: full });
    const age = inputs.oldestUndeliveredAgeMs;
    if (age !== null && age > this.opts.maxDeliveryLagMs) {
      out.push({ key: 'delivery_lag', reason: `the oldest undelivered reading is ${Math.round(age / 1000)} s old (more than status.maxDeliveryLagMs): readings are not getting through to Kinesis` });
    }
    for (const reason of inputs.other) out.push({ key: `source:${reason.split(':').slice(0, 2).join(':')}`, reason });
    return out;
  }

  /** Full: appends wait for space now (block), or readings were dropped for want of it lately (drop_*). */
  private bufferFull(inputs: HealthInputs, now: number): string | null {
    const { buffer } = inputs;
    const dropped = (buffer.dropped.buffer_full ?? 0) + (buffer.dropped.buffer_full_oldest ?? 0);
    if (this.droppedSeen >= 0 && dropped > this.droppedSeen) this.lastDropAt = now;
    this.droppedSeen = dropped;
    const use = `${((100 * buffer.bufferedBytes) / buffer.maxBytes).toFixed(1)}% of buffer.maxBytes`;
    const fix = 'readings are not leaving fast enough (see the sink\'s state), or buffer.maxBytes is too small for the outages it must ride out';
    if (inputs.waitingForSpace > 0) return `the buffer is full (${use}, buffer.whenFull: block): ${inputs.waitingForSpace} admissions wait and readings are not acknowledged; ${fix}`;
    if (now - this.lastDropAt < FULL_HOLD_MS) return `the buffer is full (${use}, buffer.whenFull: ${buffer.whenFull}): readings are being dropped; ${fix}`;
    return null;
  }

  /** Logs each cause once when it begins, and when it ends. */
  private track(causes: readonly Cause[]): void {
    const now = new Set(causes.map((c) => c.key));
    for (const c of causes) {
      if (this.active.has(c.key)) continue;
      this.active.set(c.key, c.reason);
      this.opts.logger.error({ cause: c.key }, `health degraded: ${c.reason}`);
    }
    for (const [key, reason] of this.active) {
      if (now.has(key)) continue;
      this.active.delete(key);
      this.opts.logger.info({ cause: key, was: reason }, 'health recovered');
    }
  }
}

/** What to check for a whole-call failure, by its code. */
function adviceFor(code: string): string {
  if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)$/.test(code)) {
    return 'The endpoint cannot be reached: check kinesis.endpoint / kinesis.region, DNS, the network route and any proxy or firewall.';
  }
  if (/Timeout|TimedOut|AbortError|ETIMEDOUT/i.test(code)) {
    return 'Calls time out: check the network path to the endpoint, or raise kinesis.requestTimeoutMs on a slow link.';
  }
  if (/Throughput|Throttl|LimitExceeded/.test(code)) return 'The stream refuses the rate: add shards (or use on-demand mode), or enable kinesis.aggregation.';
  return 'Check the endpoint and the AWS service health; tidegate keeps retrying.';
}
