import { describe, expect, it, vi } from 'vitest';
import { cancellableWait } from '../../src/core/abort.js';

describe('cancellableWait', () => {
  it('resolves after its time when nothing cuts it short', async () => {
    vi.useFakeTimers();
    try {
      const stop = new AbortController();
      let done = false;
      const w = cancellableWait(50, stop.signal);
      void w.promise.then(() => (done = true));
      await vi.advanceTimersByTimeAsync(49);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('resolves at once on cancel, and releases its timer and its listener', async () => {
    vi.useFakeTimers();
    try {
      const stop = new AbortController();
      const added = vi.spyOn(stop.signal, 'addEventListener');
      const removed = vi.spyOn(stop.signal, 'removeEventListener');
      const w = cancellableWait(10_000, stop.signal);
      expect(vi.getTimerCount()).toBe(1);
      w.cancel();
      await w.promise;
      expect(vi.getTimerCount()).toBe(0);
      expect(added).toHaveBeenCalledTimes(1);
      expect(removed).toHaveBeenCalledWith('abort', added.mock.calls[0]![1]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('resolves, without rejecting, when the signal aborts, and at once when it already has', async () => {
    const stop = new AbortController();
    const w = cancellableWait(60_000, stop.signal);
    stop.abort();
    await expect(w.promise).resolves.toBeUndefined();
    await expect(cancellableWait(60_000, stop.signal).promise).resolves.toBeUndefined();
  });
});
