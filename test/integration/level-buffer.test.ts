import { afterEach, describe, expect, it } from 'vitest';
import { isTidegateError } from '../../src/core/errors.js';
import { listDeadLetters } from '../../src/buffer/dead-letters.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import type { Reading } from '../../src/normalize/reading.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const reading = (deviceId: string, seq: number): Reading => ({ deviceId, topic: `devices/${deviceId}/t`, seq, receivedAt: 1_700_000_000_000 + seq, values: { v: seq } });

/** Reads every record up to `through` and commits them as delivered, the way the sink does. */
async function deliverThrough(q: LevelBuffer, through: number): Promise<void> {
  const records = (await q.read('telemetry', q.cursor('kinesis', 'telemetry'), 10_000)).filter((r) => r.seq <= through);
  await q.commitCursor('kinesis', 'telemetry', through, { delivered: records, deadLettered: [] });
}

function openQueue(dir: string): LevelBuffer {
  return new LevelBuffer({ dir, gatewayId: 'gw', durability: 'fsync', commitIntervalMs: 1, maxCommitRecords: 1_000, sinkIds: ['kinesis'] });
}

describe('LevelBuffer on a real LevelDB', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('resumes after a restart from the persisted cursor and never reuses a sequence', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const first = openQueue(temp.dir);
    await first.open();
    await Promise.all([1, 2, 3, 4, 5].map((s) => first.append([reading('a', s)])));
    await deliverThrough(first, 3);
    await first.close();

    const second = openQueue(temp.dir);
    await second.open();
    closers.push(() => second.close());
    expect(second.cursor('kinesis', 'telemetry')).toBe(3);
    const rest = await second.read('telemetry', second.cursor('kinesis', 'telemetry'), 100);
    expect(rest.map((r) => r.seq)).toEqual([4, 5]);
    expect(second.stats().buffered).toBe(2);
    await second.append([reading('a', 6)]);
    const after = await second.read('telemetry', 5, 10);
    expect(after.map((r) => r.seq)).toEqual([6]);
    expect(JSON.parse(after[0]!.data.toString())).toMatchObject({ id: 'gw-6', deviceId: 'a', seq: 6 });
    // Delivered records are removed: reading from the start finds only what is past the cursor.
    expect((await second.read('telemetry', 0, 100)).map((r) => r.seq)).toEqual([4, 5, 6]);
  });

  it('never hands out a sequence twice even when every record was delivered and deleted', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const first = openQueue(temp.dir);
    await first.open();
    await first.append([reading('a', 1), reading('a', 2)]);
    await deliverThrough(first, 2);
    await first.close();
    const second = openQueue(temp.dir);
    await second.open();
    closers.push(() => second.close());
    await second.append([reading('a', 3)]);
    expect((await second.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([3]);
  });

  it('refuses a second open of the same directory with a clear, typed error', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const first = openQueue(temp.dir);
    await first.open();
    closers.push(() => first.close());
    const err = await openQueue(temp.dir).open().catch((e: unknown) => e);
    expect(isTidegateError(err, 'ERR_QUEUE_LOCKED')).toBe(true);
    expect((err as Error).message).toBe(`another tidegate process is using ${temp.dir}; stop it or point dataDir elsewhere`);
  });

  it('groups concurrent appends into few commits and resolves each after its commit', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const q = openQueue(temp.dir);
    await q.open();
    closers.push(() => q.close());
    await Promise.all(Array.from({ length: 500 }, (_, i) => q.append([reading(`d${i % 7}`, i + 1)])));
    expect(q.stats().lastSeq).toBe(500);
    expect(q.stats().commits).toBeLessThan(20);
    expect((await q.read('telemetry', 0, 1_000)).length).toBe(500);
  });

  it('writes everything already submitted before it closes, and refuses appends afterwards', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const q = openQueue(temp.dir);
    await q.open();
    const pending = Promise.all(Array.from({ length: 50 }, (_, i) => q.append([reading('z', i + 1)])));
    await q.close();
    await pending;
    const err = await q.append([reading('z', 99)]).catch((e: unknown) => e);
    expect(isTidegateError(err, 'ERR_QUEUE_CLOSED')).toBe(true);
    const reopened = openQueue(temp.dir);
    await reopened.open();
    closers.push(() => reopened.close());
    expect((await reopened.read('telemetry', 0, 100)).length).toBe(50);
  });

  it('a replay into a full drop_newest buffer fails and keeps its dead letters, where a new reading would be dropped', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const q = new LevelBuffer({ dir: temp.dir, gatewayId: 'gw', durability: 'fsync', commitIntervalMs: 1, maxCommitRecords: 1_000, sinkIds: ['kinesis'], maxBytes: 2_000, whenFull: 'drop_newest' });
    await q.open();
    closers.push(() => q.close());
    await q.appendDeadLetter({ reason: 'topic_mismatch', message: 'x', source: 'mqtt_broker', origin: 'c', topic: 'elsewhere/a', receivedAt: 1, payloadBase64: Buffer.from('{"v":1}').toString('base64') });
    const [letter] = await listDeadLetters(q);
    let seq = 1;
    while ((await q.append([reading('a', seq)])) === 'stored') seq += 1;
    const before = q.stats();
    const err = await q.append([reading('a', 999)], { replaces: { numbers: [letter!.n], reasons: { topic_mismatch: 1 } } }).catch((e: unknown) => e);
    expect(isTidegateError(err, 'ERR_QUEUE_FULL')).toBe(true);
    expect(q.stats()).toMatchObject({ received: before.received, deadLettered: { topic_mismatch: 1 }, dropped: before.dropped });
    expect((await listDeadLetters(q)).map((d) => d.n)).toEqual([letter!.n]);
  });
});
