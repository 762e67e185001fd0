import { describe, expect, it } from 'vitest';
import { isTidegateError } from '../../src/core/errors.js';
import { MemoryQueue } from '../../src/queue/memory-queue.js';
import { describeDurableQueue, expectBalanced, GATEWAY_ID, reading, SINK_ID, type QueueOptions, type QueueUnderTest } from './durable-queue.contract.js';

describeDurableQueue('MemoryQueue', async (opts: QueueOptions): Promise<QueueUnderTest> => {
  let current = new MemoryQueue({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], ...opts });
  await current.open();
  const h: QueueUnderTest = {
    queue: current,
    async reopen() {
      current = current.crash();
      await current.open();
      h.queue = current;
      return current;
    },
    async dispose() {
      await current.close();
    },
  };
  return h;
});

describe('MemoryQueue.crash()', () => {
  it('keeps what was committed and loses the append whose commit had not happened, with its ledger entries', async () => {
    const q = new MemoryQueue({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID] });
    await q.open();
    await q.append([reading(1)]);
    await q.appendDeadLetter({ reason: 'invalid_json', message: 'x', source: 'mqtt', origin: 'c', receivedAt: 1 });
    const inFlight = q.append([reading(2)]);
    expect(q.stats()).toMatchObject({ received: 3, buffered: 2, lastSeq: 2 });

    const after = q.crash();
    const err = await inFlight.catch((e: unknown) => e);
    expect(isTidegateError(err, 'ERR_QUEUE_CLOSED')).toBe(true);
    expect(isTidegateError(await q.append([reading(3)]).catch((e: unknown) => e), 'ERR_QUEUE_CLOSED')).toBe(true);

    expect(after.stats()).toMatchObject({ received: 2, buffered: 1, deadLettered: { invalid_json: 1 }, deadLettersStored: 1, lastSeq: 1 });
    expectBalanced(after.stats());
    expect((await after.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([1]);
    expect(after.deadLetters().map((d) => d.entry.reason)).toEqual(['invalid_json']);
    await after.close();
  });

  it('keeps a cursor commit only once it is committed', async () => {
    const q = new MemoryQueue({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID] });
    await q.append([reading(1)]);
    const [r] = await q.read('telemetry', 0, 10);
    void q.commitCursor(SINK_ID, 'telemetry', r!.seq, { delivered: [r!], deadLettered: [] }).catch(() => undefined);
    expect(q.cursor(SINK_ID, 'telemetry')).toBe(r!.seq);
    const after = q.crash();
    expect(after.cursor(SINK_ID, 'telemetry')).toBe(0);
    expect(after.stats()).toMatchObject({ received: 1, delivered: 0, buffered: 1 });
    expect((await after.read('telemetry', 0, 10)).map((x) => x.seq)).toEqual([r!.seq]);
    await after.close();
  });
});

describe('MemoryQueue misuse', () => {
  it('refuses a cursor commit that lists a record as dead-lettered without deadLetterRecord()', async () => {
    const q = new MemoryQueue({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID] });
    await q.append([reading(1)]);
    const [r] = await q.read('telemetry', 0, 10);
    await expect(q.commitCursor(SINK_ID, 'telemetry', r!.seq, { delivered: [], deadLettered: [r!] })).rejects.toThrow(/deadLetterRecord\(\) was not called/);
    expect(q.cursor(SINK_ID, 'telemetry')).toBe(0);
    expectBalanced(q.stats());
    await q.close();
  });
});
