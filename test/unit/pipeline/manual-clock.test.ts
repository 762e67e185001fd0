import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../../src/core/clock.js';

describe('ManualClock', () => {
  it('moves only when advanced and fires due timers in due order, each at its own time', async () => {
    const clock = new ManualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 500);
    expect(clock.now()).toBe(1_000);
    await clock.advance(300);
    expect(fired).toEqual([['a', 1_100], ['b', 1_200]]);
    expect(clock.now()).toBe(1_300);
    expect(clock.pending).toBe(1);
    await clock.advance(200);
    expect(fired.map(([name]) => name)).toEqual(['a', 'b', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('fires timers due at the same time in the order they were set', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    for (const n of [1, 2, 3]) clock.setTimeout(() => fired.push(n), 50);
    await clock.advance(50);
    expect(fired).toEqual([1, 2, 3]);
  });

  it('does not fire a cleared timer', async () => {
    const clock = new ManualClock();
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 10);
    clock.clearTimeout(handle);
    await clock.advance(100);
    expect(fired).toBe(false);
  });

  it('fires a timer set by a firing timer within the same advance when it falls due', async () => {
    const clock = new ManualClock();
    const at: number[] = [];
    const tick = (): void => {
      at.push(clock.now());
      if (at.length < 5) clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    await clock.advance(35);
    expect(at).toEqual([10, 20, 30]);
    await clock.advance(100);
    expect(at).toEqual([10, 20, 30, 40, 50]);
  });

  it('resolves sleep when virtual time passes and continues code awaiting it before later timers', async () => {
    const clock = new ManualClock();
    const steps: string[] = [];
    const worker = (async () => {
      await clock.sleep(100);
      steps.push(`woke@${clock.now()}`);
      await clock.sleep(100);
      steps.push(`woke@${clock.now()}`);
    })();
    await clock.advance(99);
    expect(steps).toEqual([]);
    await clock.advance(101);
    await worker;
    expect(steps).toEqual(['woke@100', 'woke@200']);
  });

  it('rejects sleep with ERR_ABORTED when the signal aborts, and drops its timer', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(clock.pending).toBe(0);
    await expect(clock.sleep(10, controller.signal)).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('refuses to go backwards', async () => {
    await expect(new ManualClock().advance(-1)).rejects.toThrow(RangeError);
  });
});

describe('systemClock', () => {
  it('sleeps on real time and can be aborted', async () => {
    const before = systemClock.now();
    await systemClock.sleep(5);
    expect(systemClock.now()).toBeGreaterThanOrEqual(before + 4);
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
