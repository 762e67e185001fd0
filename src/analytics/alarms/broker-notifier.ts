import { withTimeout } from '../../core/abort.js';
import { describeError } from '../../core/errors.js';
import type { Component, ComponentContext } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Counter } from '../../core/metrics.js';
import type { PendingReading } from '../../buffer/types.js';
import type { AlarmService } from './alarm-service.js';
import { topicLevel } from './record.js';
import type { AlarmsConfig } from './schema.js';

/** The embedded broker as the notifier uses it (MqttBrokerSource). */
export interface LocalBroker {
  publishLocal(topic: string, payload: Buffer, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
  retainedTopics(filter: string): Promise<string[]>;
}

/** Where the notifier learns of committed alarm records (Admission). */
export interface CommitSource {
  observeCommits(observer: (records: readonly PendingReading[]) => void): void;
}

// An in-process publish stores the retained message and hands it to subscribers' queues; it does not wait on
// their acknowledgements, so seconds mean something is wrong. Bounded so one stuck publish cannot hold the rest.
const PUBLISH_TIMEOUT_MS = 5_000;

const RAISED_STATES = new Set(['active', 'active-acknowledged', 'clearing']);

/**
 * Mirrors the raised alarms on the embedded broker as retained messages on <topicPrefix>/<rule>/<deviceId>,
 * so a controller on the site reacts with the uplink down: the message is published when an alarm is raised
 * (and again when it is acknowledged or shelved), and replaced by an empty retained message when it clears.
 *
 * Only committed transitions are published (the records come from admission after the commit resolved), and
 * in commit order (one publish at a time). A crash between commit and publish heals at the next start: the
 * notifier then republishes every raised alarm of the restored state and clears retained alarm topics of
 * alarms no longer raised, so the retained messages always end up reflecting the committed state.
 */
export class AlarmBrokerNotifier implements Component {
  readonly id = 'alarm_notify';
  private logger!: Logger;
  private failures!: Counter;
  private published!: Counter;
  private started = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly alarms: AlarmService,
    private readonly broker: LocalBroker,
    commits: CommitSource,
    private readonly config: AlarmsConfig['notify'],
  ) {
    commits.observeCommits((records) => {
      if (!this.started) return; // the start republishes from the committed state
      for (const r of records) if (r.kind === 'alarm') this.enqueue(() => this.publishRecord(r));
    });
  }

  async start(ctx: ComponentContext): Promise<void> {
    this.logger = ctx.logger;
    this.published = ctx.metrics.counter('alarm_notifications_total');
    this.failures = ctx.metrics.counter('alarm_notification_failures_total');
    this.started = true;
    await this.enqueue(() => this.reconcile());
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.chain;
  }

  topicOf(rule: string, deviceId: string): string {
    return `${this.config.topicPrefix}/${topicLevel(rule)}/${topicLevel(deviceId)}`;
  }

  /** Republishes every raised alarm, and empties retained alarm topics whose alarm is no longer raised. */
  private async reconcile(): Promise<void> {
    const active = await this.alarms.active();
    const keep = new Set<string>();
    for (const alarm of active) {
      const topic = this.topicOf(alarm.rule, alarm.deviceId);
      keep.add(topic);
      await this.publish(topic, Buffer.from(JSON.stringify({ ...alarm.record.reading, kind: 'alarm' })));
    }
    let cleared = 0;
    for (const rule of this.alarms.ruleNames) {
      for (const topic of await this.broker.retainedTopics(`${this.config.topicPrefix}/${topicLevel(rule)}/+`)) {
        if (keep.has(topic)) continue;
        await this.publish(topic, Buffer.alloc(0));
        cleared += 1;
      }
    }
    this.logger.info({ active: active.length, cleared, topicPrefix: this.config.topicPrefix }, 'raised alarms published as retained messages on the embedded broker');
  }

  private async publishRecord(record: PendingReading): Promise<void> {
    const result = record.result as { rule: string; transition: string; state: string } | undefined;
    if (!result) return;
    const topic = this.topicOf(result.rule, record.deviceId);
    if (result.transition === 'cleared') await this.publish(topic, Buffer.alloc(0));
    else if (RAISED_STATES.has(result.state)) await this.publish(topic, Buffer.from(JSON.stringify(stripped(record))));
  }

  private async publish(topic: string, payload: Buffer): Promise<void> {
    try {
      await withTimeout(this.broker.publishLocal(topic, payload, { retain: true, qos: this.config.qos }), PUBLISH_TIMEOUT_MS, `publishing ${topic} on the embedded broker`);
      this.published.inc();
    } catch (err) {
      // Not retried here: the next start reconciles the retained messages with the committed state.
      this.failures.inc();
      this.logger.warn({ topic, err: describeError(err) }, 'alarm notification not published on the embedded broker');
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(work, work);
    return this.chain;
  }
}

/** The record as a consumer reads it from the stream (the buffer's lane is not part of it). */
function stripped(record: PendingReading): object {
  const { lane: _lane, ...rest } = record;
  return rest;
}
