import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Admission } from '../../../src/admission.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { Reading } from '../../../src/normalize/reading.js';
import { ReadingBatcher } from '../../../src/sources/serial/reading-batcher.js';

/** An admission whose commits complete only when the test releases them: a disk that is slow on demand. */
function gatedAdmission() {
  const batches: number[] = [];
  const gates: (() => void)[] = [];
  const admission = {
    admitReadings: (_source: string, readings: readonly Reading[]) =>
      new Promise<'stored'>((resolve) => {
        gates.push(() => {
          batches.push(readings.length);
          resolve('stored');
        });
      }),
    rejectMessage: async () => undefined,
  } as unknown as Admission;
  return { admission, batches, release: () => gates.splice(0).forEach((g) => g()) };
}

const reading = (seq: number): Reading => ({ deviceId: 'd', topic: 't', receivedAt: 0, seq, values: { v: seq } });

describe('ReadingBatcher', () => {
  it('batches what arrives during a commit, pauses past the bound and resumes once the backlog is down', async () => {
    const gate = gatedAdmission();
    const pressure: boolean[] = [];
    const b = new ReadingBatcher({ portName: 'p', origin: '/dev/p', maxPending: 10, admission: gate.admission, metrics: new Metrics(), logger: pino({ level: 'silent' }), onPressure: (p) => pressure.push(p) });
    b.add(reading(0));
    b.flush(); // commit 1 in flight with one reading
    for (let i = 1; i <= 10; i++) b.add(reading(i));
    b.flush(); // joins nothing: one commit at a time
    expect(pressure).toEqual([true]);
    expect(b.paused).toBe(true);
    gate.release(); // commit 1 lands; the ten waiting go in one commit
    await new Promise((r) => setImmediate(r));
    expect(pressure).toEqual([true, false]);
    gate.release();
    await b.idle();
    expect(gate.batches).toEqual([1, 10]);
  });
});
