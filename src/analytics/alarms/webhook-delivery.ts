import { Backoff } from '../../core/backoff.js';
import type { Clock } from '../../core/clock.js';
import { describeError, type TidegateErrorCode } from '../../core/errors.js';
import type { Component, ComponentContext, HealthReport } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Counter } from '../../core/metrics.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import type { OutboxEntry } from '../../buffer/outbox.js';
import type { WebhookConfig } from './webhook-schema.js';
import { loggableUrl, postEntry, WEBHOOK_FAILURE_REASONS, type PostOutcome, type PostTarget, type WebhookFailureReason } from './webhook-post.js';

/** The buffer's outbox as the delivery uses it (LevelBuffer). */
export interface Outbox {
  readOutbox(max: number): Promise<OutboxEntry[]>;
  removeOutbox(seq: number): Promise<void>;
  readonly outboxSize: number;
  readonly outboxVersion: number;
  waitForOutbox(version: number, signal: AbortSignal): Promise<void>;
}

export interface WebhookDeliveryOptions {
  /** The jitter's source, for tests that need exact delays. */
  random?: () => number;
  /** One POST; the real one unless a test replaces the transport. */
  post?: (target: PostTarget, entry: OutboxEntry, stop: AbortSignal) => Promise<PostOutcome>;
}

const WEBHOOK_REJECTED: TidegateErrorCode = 'ERR_WEBHOOK_REJECTED';
const WEBHOOK_FAILED: TidegateErrorCode = 'ERR_WEBHOOK_FAILED';

/**
 * Sends the outbox to the webhook, oldest entry first and one at a time, so a receiver sees the transitions
 * of an alarm in the order they were committed. An entry leaves the outbox only once the webhook answered
 * 2xx (at least once: a crash between the answer and the delete sends it again, with the same
 * Idempotency-Key), or when it refused it for good (a 4xx other than 408/429). A refusal is dropped, counted
 * and logged as an error rather than retried: the same bytes would be refused forever, and a misconfigured
 * receiver must not hold every later notification behind it. Failures are retried with exponential backoff
 * and jitter, the entry kept.
 */
export class AlarmWebhookDelivery implements Component {
  readonly id = 'alarm_webhook';
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private logger!: Logger;
  private clock!: Clock;
  private log!: RateLimitedLog;
  private sent!: Counter;
  private rejected!: Counter;
  private readonly failures = new Map<WebhookFailureReason, Counter>();
  private readonly backoff: Backoff;
  private readonly target: PostTarget;
  private readonly post: NonNullable<WebhookDeliveryOptions['post']>;
  /** When delivery began failing (null while it works), for health. */
  private failingSince: number | null = null;

  constructor(
    private readonly outbox: Outbox,
    private readonly config: WebhookConfig,
    options: WebhookDeliveryOptions = {},
  ) {
    this.backoff = new Backoff({ baseMs: config.retry.baseDelayMs, maxMs: config.retry.maxDelayMs, ...(options.random ? { random: options.random } : {}) });
    this.target = { url: config.url, timeoutMs: config.timeoutMs, ...(config.headers ? { headers: config.headers } : {}) };
    this.post = options.post ?? postEntry;
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.logger = ctx.logger;
    this.clock = ctx.clock;
    this.log = new RateLimitedLog(ctx.logger, 10_000, ctx.clock);
    this.sent = ctx.metrics.counter('alarm_webhook_sent_total');
    this.rejected = ctx.metrics.counter('alarm_webhook_rejected_total');
    for (const reason of WEBHOOK_FAILURE_REASONS) this.failures.set(reason, ctx.metrics.counter('alarm_webhook_failures_total', { reason }));
    ctx.metrics.gauge('alarm_webhook_outbox', () => this.outbox.outboxSize);
    // The gateway's stop signal ends the loop too, so a request in flight is abandoned as soon as stopping begins.
    if (ctx.signal.aborted) this.stopping.abort();
    else ctx.signal.addEventListener('abort', () => this.stopping.abort(), { once: true });
    // Header values are never logged: only their names.
    this.logger.info({ url: loggableUrl(this.config.url), headers: Object.keys(this.config.headers ?? {}), waiting: this.outbox.outboxSize }, 'alarm notifications are POSTed to the webhook');
    this.loop = this.run(this.stopping.signal);
  }

  /** Abandons a request in flight (the entry stays in the outbox, sent again at the next start). */
  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping.abort();
    if (!this.loop) return;
    let onDeadline = (): void => undefined;
    const cut = new Promise<void>((resolve) => {
      onDeadline = resolve;
      if (deadline.aborted) resolve();
      else deadline.addEventListener('abort', onDeadline, { once: true });
    });
    try {
      await Promise.race([this.loop, cut]);
    } finally {
      deadline.removeEventListener('abort', onDeadline);
    }
    this.log.flush();
  }

  health(): HealthReport {
    if (this.failingSince === null) return { status: 'ok', reasons: [] };
    // `<id>: <what>: <detail>`: the health model keys a cause by its first two parts, so the key stays stable.
    const seconds = Math.round((this.clock.now() - this.failingSince) / 1000);
    return { status: 'degraded', reasons: [`${this.id}: failing: no notification accepted by ${loggableUrl(this.config.url)} for ${seconds} s, ${this.outbox.outboxSize} waiting in the outbox`] };
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const version = this.outbox.outboxVersion;
        const [entry] = await this.outbox.readOutbox(1);
        if (!entry) await this.outbox.waitForOutbox(version, signal);
        else await this.deliver(entry, signal);
      } catch (err) {
        if (signal.aborted) return;
        // The buffer failed (a full disk, say): the entry is still there, so wait and read it again.
        this.log.warn('outbox', { err: describeError(err) }, 'the alarm webhook outbox could not be read or updated; retrying');
        await this.pause(signal);
      }
    }
  }

  private async deliver(entry: OutboxEntry, signal: AbortSignal): Promise<void> {
    const outcome = await this.post(this.target, entry, signal);
    switch (outcome.kind) {
      case 'aborted':
        return;
      case 'sent':
        this.sent.inc();
        this.backoff.reset();
        this.failingSince = null;
        await this.outbox.removeOutbox(entry.seq);
        return;
      case 'rejected':
        this.rejected.inc();
        this.backoff.reset();
        this.failingSince = null;
        this.log.error(
          `rejected:${outcome.status}`,
          { code: WEBHOOK_REJECTED, status: outcome.status, idempotencyKey: entry.id, url: loggableUrl(this.config.url) },
          `the alarm webhook refused a notification with HTTP ${outcome.status}; it is dropped (a resend would be refused too): check the receiver and alarms.notify.webhook`,
        );
        await this.outbox.removeOutbox(entry.seq);
        return;
      case 'failed': {
        this.failures.get(outcome.reason)!.inc();
        this.failingSince ??= this.clock.now();
        const retryInMs = this.backoff.next();
        this.log.warn(
          `failed:${outcome.reason}`,
          { code: WEBHOOK_FAILED, reason: outcome.reason, detail: outcome.detail, idempotencyKey: entry.id, retryInMs, waiting: this.outbox.outboxSize, url: loggableUrl(this.config.url) },
          'an alarm notification could not be delivered to the webhook; it stays in the outbox and is retried',
        );
        await this.clock.sleep(retryInMs, signal).catch(() => undefined);
        return;
      }
    }
  }

  private async pause(signal: AbortSignal): Promise<void> {
    await this.clock.sleep(this.backoff.next(), signal).catch(() => undefined);
  }
}
