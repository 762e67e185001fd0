import type { Logger } from './core/logger.js';
import type { Counter, Metrics } from './core/metrics.js';
import { RateLimitedLog } from './core/rate-limited-log.js';
import { decodeMessage, type DecodeOptions } from './normalize/decode.js';
import type { RawMessage, Reading, Rejection } from './normalize/reading.js';
import type { AppendOutcome, DeadLetter, DurableQueue, PendingReading } from './queue/types.js';
import type { DeviceActivity } from './telemetry/device-activity.js';

/**
 * The one way into the buffer for every source: decode, validate, append. `admit` resolves only after the
 * reading (or its dead letter) is durably committed, so a source acknowledges only what is on disk.
 * Invalid messages are dead-lettered and still acknowledged: a poison message must not loop forever.
 */
export class Admission {
  private readonly warnings: RateLimitedLog;
  private readonly received = new Map<string, Counter>();
  private readonly buffered: Counter;

  constructor(
    private readonly queue: DurableQueue,
    private readonly decode: DecodeOptions,
    private readonly metrics: Metrics,
    logger: Logger,
    private readonly activity?: DeviceActivity,
  ) {
    this.warnings = new RateLimitedLog(logger);
    this.buffered = metrics.counter('readings_buffered_total');
  }

  private countReceived(source: string): void {
    let counter = this.received.get(source);
    if (!counter) this.received.set(source, (counter = this.metrics.counter('readings_received_total', { source })));
    counter.inc();
  }

  /**
   * Decodes one MQTT-style message (device id from the topic, JSON payload) and appends it. `decode` overrides
   * the gateway's topic template and size limit for sources that have their own (a site broker's topics).
   */
  async admit(raw: RawMessage, decode: DecodeOptions = this.decode): Promise<void> {
    this.countReceived(raw.source);
    const result = decodeMessage(raw, decode);
    if (result.ok) {
      this.activity?.seen(result.reading.deviceId, raw.receivedAt);
      if ((await this.queue.append([result.reading])) === 'stored') this.buffered.inc();
      else this.metrics.inc('readings_dropped_total', { reason: 'buffer_full' });
      return;
    }
    await this.reject(raw, result.rejection);
  }

  /**
   * Appends readings a source has already parsed from its own framing (serial lines, Modbus registers), in
   * one group commit. Resolves once they are durable (or dropped by the full-buffer policy, counted).
   */
  async admitReadings(source: string, readings: readonly (Reading | PendingReading)[]): Promise<AppendOutcome> {
    if (readings.length === 0) return 'stored';
    for (const reading of readings) {
      this.countReceived(source);
      this.activity?.seen(reading.deviceId, reading.receivedAt);
    }
    const outcome = await this.queue.append(readings);
    if (outcome === 'stored') this.buffered.inc(readings.length);
    else this.metrics.inc('readings_dropped_total', { reason: 'buffer_full' }, readings.length);
    return outcome;
  }

  /**
   * Keeps a message a source could not turn into a reading (garbage on a serial line, a frame over the cap),
   * with its reason: counted as received and dead-lettered, and warned about at a bounded rate.
   */
  async rejectMessage(raw: RawMessage, rejection: Rejection): Promise<void> {
    this.countReceived(raw.source);
    await this.reject(raw, rejection);
  }

  /** Records a message that was refused before it could be read whole (its payload is not kept). */
  async refuse(entry: Omit<DeadLetter, 'receivedAt'>): Promise<void> {
    this.countReceived(entry.source);
    await this.deadLetter({ ...entry, receivedAt: Date.now() });
  }

  private async reject(raw: RawMessage, rejection: Rejection): Promise<void> {
    await this.deadLetter({
      reason: rejection.reason,
      message: rejection.message,
      source: raw.source,
      origin: raw.origin,
      topic: raw.topic,
      receivedAt: raw.receivedAt,
      payloadBase64: raw.payload.toString('base64'),
    });
  }

  private async deadLetter(entry: DeadLetter): Promise<void> {
    await this.queue.appendDeadLetter(entry);
    this.metrics.inc('readings_dead_lettered_total', { reason: entry.reason });
    this.warnings.warn(
      `${entry.source}:${entry.reason}`,
      { reason: entry.reason, origin: entry.origin, topic: entry.topic, detail: entry.message },
      'message rejected and kept in the dead letters',
    );
  }
}
