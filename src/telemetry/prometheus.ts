import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from '../core/metrics.js';
import type { BufferStats } from '../buffer/types.js';

const HELP: Record<string, string> = {
  readings_received_total: 'Messages received since start, by source (valid or not)',
  readings_buffered_total: 'Readings committed to the buffer since start',
  readings_delivered_total: 'Readings Kinesis accepted since start',
  readings_dead_lettered_total: 'Messages moved to the dead letters since start, by reason',
  readings_dropped_total: 'Readings dropped by the full-buffer policy since start, by reason',
  kinesis_calls_total: 'PutRecords calls made',
  kinesis_call_failures_total: 'PutRecords calls that failed as a whole, by error code',
  kinesis_entry_failures_total: 'PutRecords entries Kinesis refused (and that were resent), by error code',
  mqtt_admission_failures_total: 'Publishes that could not be stored and were not acknowledged',
  buffer_quarantined_total: 'Damaged buffers moved aside at start',
  mqtt_connected_clients: 'MQTT clients connected now',
  buffer_readings: 'Readings in the buffer now',
  mqtt_refused_total: 'MQTT connections, packets and subscriptions refused, by reason (bad_credentials, not_authorized, client_id_rejected, will_denied, max_connections, connect_timeout, topic_too_long, ...)',
  mqtt_acl_denied_total: 'Publishes, subscriptions and wills outside what the client may use, by action',
  mqtt_keepalive_adjusted_total: 'CONNECTs whose keepalive (0 or above mqtt.limits.maxKeepaliveSeconds) was replaced by the maximum',
  mqtt_publish_delayed_total: 'Publishes whose acknowledgement was delayed by mqtt.limits.publishRate',
};

/**
 * How often the event-loop lag histogram samples (ms). prom-client's default, 10 ms, is a timer that wakes
 * the process 100 times a second for ever, idle or not: about 0.3 % of a core on an idle gateway here, and
 * 100 of the 140 wakeups a second of a paced drain (issue: Pi-class efficiency). At 100 ms a stall of 100 ms
 * or more is always seen (a sample falls due inside it), a shorter one in proportion to its length.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

const parseSeries = (key: string): { name: string; labels: Record<string, string> } => {
  const brace = key.indexOf('{');
  if (brace < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of key.slice(brace + 1, -1).matchAll(/(\w+)="([^"]*)"/g)) labels[m[1]!] = m[2]!;
  return { name: key.slice(0, brace), labels };
};

/**
 * Prometheus metrics through prom-client: the process metrics it collects (CPU, memory, event-loop lag), the
 * gateway's counters since start, and the persisted conservation ledger of the buffer (which survives
 * restarts: `tidegate_ledger_*`). Values are read at scrape time; nothing is added to the hot path.
 */
export class PrometheusExporter {
  readonly registry = new Registry();
  private readonly made = new Set<string>();
  /** PutRecords call latency, by outcome (ok, partial: some entries refused, failed: the whole call). */
  readonly putRecordsSeconds = new Histogram({
    name: 'tidegate_kinesis_put_records_seconds',
    help: 'Duration of PutRecords calls, by outcome',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(
    private readonly metrics: Metrics,
    private readonly buffer: () => BufferStats,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tidegate_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.ledgerMetrics();
  }

  /** The gateway's series, read once per scrape: every metric's collect() reads from here. */
  private scrape = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();

  async render(): Promise<string> {
    const byName = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
    for (const [key, value] of Object.entries(this.metrics.snapshot())) {
      const { name, labels } = parseSeries(key);
      (byName.get(name) ?? byName.set(name, []).get(name)!).push({ labels, value });
    }
    this.scrape = byName;
    this.declareSeen();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Counters and gauges appear as the gateway first uses them; each reads its values at scrape time. */
  private declareSeen(): void {
    for (const [name, series] of this.scrape) {
      if (this.made.has(name)) continue;
      this.made.add(name);
      const labelNames = Object.keys(series[0]!.labels);
      // One snapshot per scrape (render), not one per metric: gauges' read functions run once each.
      const current = () => this.scrape.get(name) ?? [];
      const help = HELP[name] ?? name.replace(/_/g, ' ');
      if (name.endsWith('_total')) {
        new Counter({ name: `tidegate_${name}`, help, labelNames, registers: [this.registry], collect() {
          this.reset();
          for (const s of current()) this.inc(s.labels, s.value);
        } });
      } else {
        new Gauge({ name: `tidegate_${name}`, help, labelNames, registers: [this.registry], collect() {
          for (const s of current()) this.set(s.labels, s.value);
        } });
      }
    }
  }

  private ledgerMetrics(): void {
    const buffer = this.buffer;
    const counter = (name: string, help: string, read: (s: BufferStats) => number) =>
      new Counter({ name, help, registers: [this.registry], collect() {
        this.reset();
        this.inc(read(buffer()));
      } });
    const byReason = (name: string, help: string, read: (s: BufferStats) => Record<string, number>) =>
      new Counter({ name, help, labelNames: ['reason'], registers: [this.registry], collect() {
        this.reset();
        for (const [reason, n] of Object.entries(read(buffer()))) if (n > 0) this.inc({ reason }, n);
      } });
    counter('tidegate_ledger_received_total', 'Received, over the life of the data dir', (s) => s.received);
    counter('tidegate_ledger_delivered_total', 'Delivered, over the life of the data dir', (s) => s.delivered);
    byReason('tidegate_ledger_dead_lettered_total', 'Dead-lettered by reason, over the life of the data dir', (s) => s.deadLettered);
    byReason('tidegate_ledger_dropped_total', 'Dropped by reason, over the life of the data dir', (s) => s.dropped);
    const gauge = (name: string, help: string, read: (s: BufferStats) => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() {
        this.set(read(buffer()));
      } });
    gauge('tidegate_buffer_buffered_readings', 'Readings waiting in the buffer', (s) => s.buffered);
    gauge('tidegate_buffer_bytes', 'Bytes of buffered readings, as counted against the budget', (s) => s.bufferedBytes);
    gauge('tidegate_buffer_max_bytes', 'The buffer budget (buffer.maxBytes)', (s) => s.maxBytes);
    gauge('tidegate_dead_letters_stored', 'Dead letters kept in the buffer', (s) => s.deadLettersStored);
  }
}
