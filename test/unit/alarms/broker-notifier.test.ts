import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlarmBrokerNotifier, type LocalBroker } from '../../../src/analytics/alarms/broker-notifier.js';
import { AlarmService, type AlarmAdmission } from '../../../src/analytics/alarms/alarm-service.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { rig } from './helpers.js';

/** A broker port that keeps retained messages the way MQTT does: an empty payload deletes. */
class RetainingBroker implements LocalBroker {
  readonly retained = new Map<string, Buffer>();
  readonly published: string[] = [];
  async publishLocal(topic: string, payload: Buffer): Promise<void> {
    this.published.push(`${topic} ${payload.length === 0 ? 'empty' : (JSON.parse(payload.toString()) as { result: { transition: string } }).result.transition}`);
    if (payload.length === 0) this.retained.delete(topic);
    else this.retained.set(topic, payload);
  }
  async retainedTopics(filter: string): Promise<string[]> {
    const prefix = filter.replace(/\/\+$/, '/');
    return [...this.retained.keys()].filter((t) => t.startsWith(prefix) && !t.slice(prefix.length).includes('/'));
  }
}

function setup() {
  const r = rig({ rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 80, clear: 75 } });
  let observer: ((records: readonly PendingReading[]) => void) | null = null;
  // Admission as the service sees it: operations run at once (their commit is the caller's to test elsewhere).
  const admission: AlarmAdmission & { observeCommits(o: (records: readonly PendingReading[]) => void): void } = {
    operate: async (_t, op) => op(),
    committedView: async (read) => read(),
    observeCommits: (o) => (observer = o),
  };
  const service = new AlarmService([r.transform], admission, r.ctx);
  const broker = new RetainingBroker();
  const notifier = new AlarmBrokerNotifier(service, broker, admission, { enabled: true, topicPrefix: 'site/alarms', qos: 1 });
  const start = () => notifier.start({ logger: pino({ level: 'silent' }), metrics: new Metrics(), clock: r.clock, signal: new AbortController().signal });
  const commit = (records: readonly { kind: string; reading: PendingReading }[]) => observer!(records.map((p) => ({ ...p.reading, kind: 'alarm' as const, lane: 'alarm' as const })));
  return { r, broker, notifier, start, commit };
}

describe('alarm notification on the local broker', () => {
  it('at start republishes raised alarms and empties retained topics of alarms no longer raised', async () => {
    const { r, broker, start } = setup();
    r.feed(90, { deviceId: 'a' });
    r.feed(60, { deviceId: 'b' });
    broker.retained.set('site/alarms/hot/b', Buffer.from('{"stale":true}'));
    broker.retained.set('site/alarms/other-rule/x', Buffer.from('{"not ours":true}'));
    await start();
    expect([...broker.retained.keys()].sort()).toEqual(['site/alarms/hot/a', 'site/alarms/other-rule/x']);
    expect(JSON.parse(broker.retained.get('site/alarms/hot/a')!.toString())).toMatchObject({ kind: 'alarm', result: { transition: 'raised', state: 'active' } });
  });

  it('publishes committed transitions in order: raised retained, cleared emptied; ignores commits before start', async () => {
    const { r, broker, notifier, start, commit } = setup();
    r.feed(90);
    commit(r.records.splice(0));
    expect(broker.published).toEqual([]);
    await start();
    r.feed(60);
    r.feed(91);
    r.feed(50);
    commit(r.records.splice(0));
    await notifier.stop();
    // The start's republish of the raised alarm, then the three committed transitions.
    expect(broker.published).toEqual(['site/alarms/hot/th-1 raised', 'site/alarms/hot/th-1 empty', 'site/alarms/hot/th-1 raised', 'site/alarms/hot/th-1 empty']);
    expect(broker.retained.size).toBe(0);
  });
});
