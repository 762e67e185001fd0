import { describe, expect, it } from 'vitest';
import { RESEND_WINDOW, ResendGuard } from '../../../src/pipeline/resend-guard.js';
import type { PendingReading } from '../../../src/buffer/types.js';
import { describeTransform, transformContext } from '../../contract/transform.contract.js';

const T0 = 1_700_000_000_000;
const r = (seq: number | undefined, ts: number | undefined, deviceId = 'dev-1'): PendingReading => ({
  deviceId,
  topic: `devices/${deviceId}/telemetry`,
  receivedAt: T0,
  ...(seq !== undefined ? { seq } : {}),
  ...(ts !== undefined ? { ts } : {}),
  values: { v: seq ?? 0 },
});

function fates(guard: ResendGuard, readings: PendingReading[]): string[] {
  const ctx = transformContext();
  return readings.map((x) => guard.process(x, ctx).fate);
}

describeTransform('resend_guard', () => new ResendGuard());

describe('the resend guard', () => {
  it('drops a reading its device sent again, and nothing else', () => {
    const g = new ResendGuard();
    expect(fates(g, [r(1, T0), r(2, T0 + 1_000), r(3, T0 + 2_000), r(2, T0 + 1_000), r(3, T0 + 2_000), r(4, T0 + 3_000)])).toEqual(['pass', 'pass', 'pass', 'filter', 'filter', 'pass']);
  });

  it('takes readings that arrive out of order once each', () => {
    const g = new ResendGuard();
    expect(fates(g, [r(5, T0 + 5_000), r(3, T0 + 3_000), r(4, T0 + 4_000), r(3, T0 + 3_000), r(1, T0 + 1_000)])).toEqual(['pass', 'pass', 'pass', 'filter', 'pass']);
  });

  it('treats a lower seq with a newer ts as a restarted count (a reboot), not as resends', () => {
    const g = new ResendGuard();
    expect(fates(g, [r(1, T0), r(2, T0 + 1_000), r(3, T0 + 2_000), r(1, T0 + 60_000), r(2, T0 + 61_000), r(1, T0 + 60_000)])).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'filter']);
  });

  it('keeps devices apart, and lets readings without seq or ts pass', () => {
    const g = new ResendGuard();
    expect(fates(g, [r(1, T0, 'a'), r(1, T0, 'b'), r(1, T0, 'a'), r(undefined, T0), r(undefined, T0), r(7, undefined), r(7, undefined)])).toEqual(['pass', 'pass', 'filter', 'pass', 'pass', 'pass', 'pass']);
  });

  it('remembers RESEND_WINDOW seqs below the newest across word boundaries', () => {
    const g = new ResendGuard();
    const n = RESEND_WINDOW + 40;
    expect(fates(g, Array.from({ length: n }, (_, i) => r(i + 1, T0 + i)))).toEqual(Array(n).fill('pass'));
    // The last RESEND_WINDOW seqs are all recognised; one older than that is taken as new.
    const recent = Array.from({ length: RESEND_WINDOW }, (_, i) => r(n - i, T0 + n - i - 1));
    expect(fates(g, recent)).toEqual(Array(RESEND_WINDOW).fill('filter'));
    expect(fates(g, [r(n - RESEND_WINDOW, T0 + n - RESEND_WINDOW - 1)])).toEqual(['pass']);
  });

  it('recognises resends after its state was checkpointed and restored (a gateway restart)', () => {
    const g = new ResendGuard();
    fates(g, [r(1, T0), r(2, T0 + 1_000), r(40, T0 + 40_000), r(1, T0, 'other')]);
    const state = new Map(g.checkpoint().map((op) => [op.key, op.type === 'put' ? op.value : '']));
    expect(g.checkpoint()).toEqual([]);
    const restored = new ResendGuard();
    restored.restore(state);
    expect(fates(restored, [r(2, T0 + 1_000), r(40, T0 + 40_000), r(3, T0 + 3_000), r(1, T0, 'other'), r(41, T0 + 41_000)])).toEqual(['filter', 'filter', 'pass', 'filter', 'pass']);
  });

  it('forgets the device seen longest ago when full, and says so in its checkpoint', () => {
    const g = new ResendGuard(2);
    fates(g, [r(1, T0, 'a'), r(1, T0, 'b'), r(2, T0 + 1, 'a'), r(1, T0, 'c')]);
    const ops = g.checkpoint();
    expect(ops.filter((op) => op.type === 'del').map((op) => op.key)).toEqual(['b']);
    // b's resend is taken as new (it was forgotten); a is now the longest ago and makes room; c is remembered.
    expect(fates(g, [r(1, T0, 'b'), r(1, T0, 'c'), r(2, T0 + 1, 'a')])).toEqual(['pass', 'filter', 'pass']);
  });
});
