import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/normalize/reading.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const T0 = 1_700_000_000_000;
const reading = (seq: number): Reading => ({ deviceId: 'old-1', topic: 'devices/old-1/t', seq, receivedAt: T0 + seq * 1_000, values: { v: seq, pad: 'x'.repeat(200) } });

function openQueue(dir: string, tailLimits?: { maxRecords: number; maxBytes: number }): LevelBuffer {
  return new LevelBuffer({
    dir, gatewayId: 'gw', durability: 'os', commitIntervalMs: 1, maxCommitRecords: 1_000, maxBytes: 20_000, whenFull: 'drop_oldest', sinkIds: ['kinesis'],
    ...(tailLimits ? { tailLimits } : {}),
  });
}

/** The receive time of the oldest record actually in the buffer, read the way the sink reads it. */
async function oldestStored(q: LevelBuffer): Promise<number> {
  const [first] = await q.read('telemetry', q.cursor('kinesis', 'telemetry'), 1);
  return (JSON.parse(first!.data.toString('utf8')) as { receivedAt: number }).receivedAt;
}

/** What health reports as the oldest undelivered age is the age of a reading the buffer still holds. */
describe('oldest undelivered reading', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('is the oldest reading left after drop_oldest, after deliveries, and after a restart', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const first = openQueue(temp.dir);
    await first.open();
    for (let seq = 1; seq <= 300; seq++) await first.append([reading(seq)]);
    await expect.poll(() => first.stats().dropped.buffer_full_oldest ?? 0, { timeout: 10_000 }).toBeGreaterThan(100);
    await expect.poll(() => first.stats().bufferedBytes <= 20_000, { timeout: 10_000 }).toBe(true);
    const dropped = first.stats().dropped.buffer_full_oldest!;
    // Readings 1..dropped were dropped oldest first: the oldest left is the next one.
    expect(await first.oldestUndeliveredAt()).toBe(T0 + (dropped + 1) * 1_000);
    expect(await first.oldestUndeliveredAt()).toBe(await oldestStored(first));

    // Deliver the five oldest left: the next one is now the oldest.
    const five = await first.read('telemetry', first.cursor('kinesis', 'telemetry'), 5);
    await first.commitCursor('kinesis', 'telemetry', five[4]!.seq, { delivered: five, deadLettered: [] });
    expect(await first.oldestUndeliveredAt()).toBe(T0 + (dropped + 6) * 1_000);
    await first.close();

    const second = openQueue(temp.dir);
    await second.open();
    closers.push(() => second.close());
    expect(await second.oldestUndeliveredAt()).toBe(T0 + (dropped + 6) * 1_000);
    expect(await second.oldestUndeliveredAt()).toBe(await oldestStored(second));
  });

  it('follows every change while asked repeatedly: a first reading, a prune without a delivery, a delivery, an empty buffer', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const q = openQueue(temp.dir);
    await q.open();
    closers.push(() => q.close());
    expect(await q.oldestUndeliveredAt()).toBeNull();
    await q.append([reading(1)]);
    // Asked again with nothing removed: the answer must still see the new reading.
    expect(await q.oldestUndeliveredAt()).toBe(T0 + 1_000);
    for (let seq = 2; seq <= 300; seq++) await q.append([reading(seq)]);
    await expect.poll(() => q.stats().dropped.buffer_full_oldest ?? 0, { timeout: 10_000 }).toBeGreaterThan(100);
    await expect.poll(async () => (await q.oldestUndeliveredAt()) === (await oldestStored(q)), { timeout: 10_000 }).toBe(true);
    const all = await q.read('telemetry', q.cursor('kinesis', 'telemetry'), 1_000);
    await q.commitCursor('kinesis', 'telemetry', all[all.length - 1]!.seq, { delivered: all, deadLettered: [] });
    expect(await q.oldestUndeliveredAt()).toBeNull();
  });

  it('answers alike from the in-memory tail of recent commits and from the store', async () => {
    // One buffer whose tail holds everything, one whose tail holds two records (so the store answers).
    const temps = [await makeTempDir(), await makeTempDir()];
    for (const t of temps) closers.push(t.cleanup);
    const [withTail, fromStore] = [openQueue(temps[0]!.dir), openQueue(temps[1]!.dir, { maxRecords: 2, maxBytes: 1_000_000 })];
    for (const q of [withTail, fromStore]) {
      await q.open();
      closers.push(() => q.close());
    }
    const both = async (): Promise<Array<number | null>> => [await withTail.oldestUndeliveredAt(), await fromStore.oldestUndeliveredAt()];
    expect(await both()).toEqual([null, null]);
    for (const q of [withTail, fromStore]) for (let seq = 1; seq <= 20; seq++) await q.append([reading(seq)]);
    expect(await both()).toEqual([T0 + 1_000, T0 + 1_000]);
    // Delivered out of order: the third to seventh go first (another split's call), the cursor stays.
    for (const q of [withTail, fromStore]) {
      const all = await q.read('telemetry', 0, 20);
      await q.removeHandled('telemetry', { delivered: all.slice(2, 7), deadLettered: [] });
      await q.commitCursor('kinesis', 'telemetry', all[1]!.seq, { delivered: all.slice(0, 2), deadLettered: [] });
    }
    expect(await both()).toEqual([T0 + 8_000, T0 + 8_000]);
    for (const q of [withTail, fromStore]) {
      const rest = await q.read('telemetry', 7, 20);
      await q.commitCursor('kinesis', 'telemetry', rest[rest.length - 1]!.seq, { delivered: rest, deadLettered: [] });
    }
    expect(await both()).toEqual([null, null]);
  });
});
