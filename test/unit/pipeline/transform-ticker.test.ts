import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { Metrics } from '../../../src/core/metrics.js';
import { TransformTicker, type TimeDriven } from '../../../src/pipeline/transform-ticker.js';

function recorder(fail = 0): TimeDriven & { ticks: number[]; flushes: number } {
  let failures = fail;
  const r = {
    ticks: [] as number[],
    flushes: 0,
    async onTime(now: number) {
      if (failures-- > 0) throw new Error('disk stalled');
      r.ticks.push(now);
    },
    async flushTransforms() {
      r.flushes += 1;
    },
  };
  return r;
}

const start = (ticker: TransformTicker, clock: ManualClock) =>
  ticker.start({ clock, logger: pino({ level: 'silent' }), metrics: new Metrics(), signal: new AbortController().signal });

describe('the transform ticker', () => {
  it('tells the transforms the time every tickMs of the injected clock, with no reading arriving', async () => {
    const clock = new ManualClock(1_000_000);
    const target = recorder();
    const ticker = new TransformTicker(target, { tickMs: 1_000 });
    await start(ticker, clock);
    await clock.advance(3_500);
    expect(target.ticks).toEqual([1_001_000, 1_002_000, 1_003_000]);
    await ticker.stop(new AbortController().signal);
    await clock.advance(5_000);
    expect(target.ticks).toHaveLength(3);
    expect(target.flushes).toBe(1);
  });

  it('keeps ticking after a failed tick, and flushes on stop', async () => {
    const clock = new ManualClock(0);
    const target = recorder(1);
    const ticker = new TransformTicker(target, { tickMs: 500 });
    await start(ticker, clock);
    await clock.advance(1_500);
    expect(target.ticks).toEqual([1_000, 1_500]);
    await ticker.stop(new AbortController().signal);
    expect(target.flushes).toBe(1);
  });

  it('does not flush when the stop deadline has already passed', async () => {
    const clock = new ManualClock(0);
    const target = recorder();
    const ticker = new TransformTicker(target, { tickMs: 500 });
    await start(ticker, clock);
    await ticker.stop(AbortSignal.abort());
    expect(target.flushes).toBe(0);
  });
});
