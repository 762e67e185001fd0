import { MemoryLevel } from 'memory-level';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AlarmWebhookDelivery } from '../../../src/analytics/alarms/webhook-delivery.js';
import { webhookSchema } from '../../../src/analytics/alarms/webhook-schema.js';
import { systemClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { conservationGap } from '../../../src/buffer/conservation.js';
import type { LevelBuffer } from '../../../src/buffer/level-buffer.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import type { BufferStore } from '../../../src/buffer/open-store.js';
import { decodeStoredValue, keySeq, OUTBOX_END, OUTBOX_PREFIX, recordEnd, recordPrefix } from '../../../src/buffer/record-codec.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { CrashableStore } from '../../helpers/crashable-store.js';
import { acceptedKeys, startWebhookReceiver, until, type Answer, type ReceivedRequest, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

const alarm = (transition: string, n: number): PendingReading => ({
  kind: 'alarm',
  lane: 'alarm',
  deviceId: 'th-1',
  topic: 'tidegate/alarms/hot/th-1',
  ts: 1_000 + n,
  receivedAt: 1_000 + n,
  values: { value: 90 },
  result: { rule: 'hot', transition, state: transition === 'cleared' ? 'normal' : 'active' },
});
const reading = (n: number): PendingReading => ({ deviceId: 'th-1', topic: 'devices/th-1/telemetry', receivedAt: 1_000 + n, values: { t: n } });

describe('alarm webhook delivery (real HTTP server, in-memory buffer)', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  async function setup(answer: (req: ReceivedRequest, i: number) => Answer, overrides: Record<string, unknown> = {}, maxEntries = 100) {
    const receiver = await startWebhookReceiver(answer);
    closers.push(() => receiver.close());
    const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' }) as unknown as BufferStore;
    const dropped: number[] = [];
    const open = async (): Promise<LevelBuffer> => {
      const q = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], outbox: { maxEntries, select: (r) => r.kind === 'alarm', onDropped: (n) => dropped.push(n) } }, store);
      await q.open();
      return q;
    };
    const buffer = await open();
    closers.push(() => buffer.close());
    const config = webhookSchema.parse({ url: receiver.url, retry: { baseDelayMs: 40, maxDelayMs: 1_000 }, ...overrides });
    const metrics = new Metrics();
    // random 1: every delay is the exponential cap exactly (40, 80, 160 ms), so the spacing can be checked.
    const delivery = new AlarmWebhookDelivery(buffer, config, { random: () => 1 });
    const start = async () => {
      await delivery.start({ logger: pino({ level: 'silent' }), metrics, clock: systemClock, signal: new AbortController().signal });
      closers.push(() => delivery.stop(AbortSignal.timeout(5_000)));
    };
    return { receiver, buffer, metrics, delivery, start, dropped, open };
  }

  it('retries a 503 and a dropped connection with growing delays, sends once on 2xx with the same key, and only then empties the outbox', async () => {
    const answers: Answer[] = [503, 'destroy', 200];
    const s = await setup((_r, i) => answers[i] ?? 500, { headers: { Authorization: 'Bearer sekrit' } });
    await s.buffer.append([reading(1), alarm('raised', 2)]);
    expect(s.buffer.outboxSize).toBe(1);
    await s.start();
    await s.receiver.waitFor((r) => r.length >= 1);
    // Refused once: still waiting in the outbox.
    expect(await s.buffer.readOutbox(10)).toHaveLength(1);
    await s.receiver.waitFor((r) => acceptedKeys(r).length === 1);
    await until(() => s.buffer.outboxSize === 0, 5_000, 'the outbox emptying');
    expect(await s.buffer.readOutbox(10)).toEqual([]);

    const [first, second, third] = s.receiver.requests;
    expect(s.receiver.requests).toHaveLength(3);
    expect(new Set(s.receiver.requests.map((r) => r.idempotencyKey))).toEqual(new Set(['gw-2']));
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(38);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(78);
    expect(third!.headers['authorization']).toBe('Bearer sekrit');
    expect(third!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(third!.body)).toMatchObject({ id: 'gw-2', kind: 'alarm', deviceId: 'th-1', result: { transition: 'raised' } });
    expect(s.metrics.get('alarm_webhook_sent_total')).toBe(1);
    expect(s.metrics.get('alarm_webhook_failures_total', { reason: 'status' })).toBe(1);
    expect(s.metrics.get('alarm_webhook_failures_total', { reason: 'connection' })).toBe(1);
    expect(s.metrics.get('alarm_webhook_rejected_total')).toBe(0);
    expect(s.metrics.snapshot()['alarm_webhook_outbox']).toBe(0);
  });

  it('drops an entry refused with a 4xx (counted as rejected), retries 408 and 429, and keeps commit order', async () => {
    const s = await setup((r, i) => (r.idempotencyKey === 'gw-1' ? 400 : i === 1 ? 429 : i === 2 ? 408 : 204));
    await s.buffer.append([alarm('raised', 1)]);
    await s.buffer.append([alarm('cleared', 2)]);
    await s.start();
    await s.receiver.waitFor((r) => acceptedKeys(r).length === 1);
    await until(() => s.buffer.outboxSize === 0, 5_000, 'the outbox emptying');
    expect(s.receiver.requests.map((r) => [r.idempotencyKey, r.status])).toEqual([
      ['gw-1', 400],
      ['gw-2', 429],
      ['gw-2', 408],
      ['gw-2', 204],
    ]);
    expect(s.metrics.get('alarm_webhook_rejected_total')).toBe(1);
    expect(s.metrics.get('alarm_webhook_failures_total', { reason: 'status' })).toBe(2);
    expect(s.metrics.get('alarm_webhook_sent_total')).toBe(1);
  });

  it('counts a request without an answer as a timeout and sends it again', async () => {
    const s = await setup((_r, i) => (i === 0 ? 'hang' : 200), { timeoutMs: 200 });
    await s.buffer.append([alarm('raised', 1)]);
    await s.start();
    await s.receiver.waitFor((r) => acceptedKeys(r).length === 1);
    // The receiver answered; the delivery counts it and empties the outbox a moment later.
    await until(() => s.buffer.outboxSize === 0, 5_000, 'the outbox emptying');
    expect(s.receiver.requests.map((r) => r.idempotencyKey)).toEqual(['gw-1', 'gw-1']);
    expect(s.metrics.get('alarm_webhook_failures_total', { reason: 'timeout' })).toBe(1);
    expect(s.metrics.get('alarm_webhook_sent_total')).toBe(1);
  });

  it('stops promptly with a request hanging, and keeps its entry for the next start', async () => {
    const s = await setup(() => 'hang', { timeoutMs: 60_000 });
    await s.buffer.append([alarm('raised', 1)]);
    await s.start();
    await s.receiver.waitFor((r) => r.length === 1);
    const began = Date.now();
    await s.delivery.stop(AbortSignal.timeout(5_000));
    expect(Date.now() - began).toBeLessThan(1_000);
    expect((await s.buffer.readOutbox(10)).map((e) => e.id)).toEqual(['gw-1']);
  });

  it('wakes for entries committed while it waits', async () => {
    const s = await setup(() => 200);
    await s.start();
    await s.buffer.append([alarm('raised', 1)]);
    await s.receiver.waitFor((r) => acceptedKeys(r).length === 1);
    await s.buffer.append([alarm('cleared', 2)]);
    await s.receiver.waitFor((r) => acceptedKeys(r).length === 2);
    expect(acceptedKeys(s.receiver.requests)).toEqual(['gw-1', 'gw-2']);
  });
});

describe('the outbox in the buffer', () => {
  it('is written with the alarm records only, survives a reopen, and at its bound drops the oldest, counted', async () => {
    const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' }) as unknown as BufferStore;
    const dropped: number[] = [];
    const open = async () => {
      const q = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], outbox: { maxEntries: 2, select: (r) => r.kind === 'alarm', onDropped: (n) => dropped.push(n) } }, store);
      await q.open();
      return q;
    };
    let q = await open();
    await q.append([reading(1), alarm('raised', 2)]);
    await q.append([alarm('acknowledged', 3)]);
    await q.append([alarm('cleared', 4), reading(5)]);
    expect(dropped).toEqual([1]);
    expect(q.outboxSize).toBe(2);
    const stats = q.stats();
    // The outbox is not buffered data: the ledger counts the five records only.
    expect(stats.buffered).toBe(5);
    expect(conservationGap(stats)).toBe(0);
    await q.close();

    q = await open();
    try {
      const entries = await q.readOutbox(10);
      expect(entries.map((e) => e.id)).toEqual(['gw-3', 'gw-4']);
      expect(JSON.parse(entries[1]!.body)).toMatchObject({ id: 'gw-4', result: { transition: 'cleared' } });
      expect(q.stats().buffered).toBe(5);
      await q.removeOutbox(3);
      expect(q.outboxSize).toBe(1);
      expect((await q.readOutbox(10)).map((e) => e.id)).toEqual(['gw-4']);
    } finally {
      await q.close();
    }
  });
});

describe('the outbox across a crash', () => {
  it('holds an entry for exactly the alarm records that were committed, with the same bytes, whenever the process dies', async () => {
    let store = new CrashableStore();
    for (let round = 0; round < 20; round++) {
      const q = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['kinesis'], outbox: { maxEntries: 10_000, select: (r) => r.kind === 'alarm' } }, store.asBufferStore());
      await q.open();
      // Several appends in flight, some sharing a commit; the process dies as soon as the first is acknowledged.
      const appends = [q.append([alarm('raised', round)]), q.append([reading(round), alarm('acknowledged', round)]), q.append([reading(round)])];
      await appends[0];
      store = await store.crash();
      void Promise.allSettled(appends);
    }
    await store.open();
    const records = new Map<number, string>();
    const entries = new Map<number, string>();
    for await (const [key, value] of store.iterator({ gt: recordPrefix('alarm'), lt: recordEnd('alarm') })) records.set(keySeq(key), decodeStoredValue('alarm', key, Buffer.from(value)).data.toString('utf8'));
    for await (const [key, value] of store.iterator({ gt: OUTBOX_PREFIX, lt: OUTBOX_END })) entries.set(keySeq(key), value);
    await store.close();
    expect(records.size).toBeGreaterThanOrEqual(20);
    expect([...entries.keys()]).toEqual([...records.keys()]);
    for (const [seq, json] of records) expect(entries.get(seq)).toBe(json);
  });
});
