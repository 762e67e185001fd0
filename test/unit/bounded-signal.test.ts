import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { boundedSignal } from '../../src/core/abort.js';

describe('boundedSignal', () => {
  it('aborts with a TimeoutError after its time, even when nothing else holds the timer', async () => {
    const parent = new AbortController();
    const { signal } = boundedSignal(parent.signal, 20);
    // What a GC-collected AbortSignal.timeout inside AbortSignal.any would never do: the abort comes.
    globalThis.gc?.();
    await once(signal, 'abort');
    expect((signal.reason as Error).name).toBe('TimeoutError');
    expect(parent.signal.aborted).toBe(false);
  });

  it("aborts with the parent, at once, with the parent's reason", () => {
    const parent = new AbortController();
    const { signal } = boundedSignal(parent.signal, 60_000);
    parent.abort(new Error('stopping'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('stopping');
    const already = boundedSignal(parent.signal, 60_000);
    expect(already.signal.aborted).toBe(true);
  });

  it('done() releases the timer and the parent listener: no abort afterwards', async () => {
    const parent = new AbortController();
    const bounded = boundedSignal(parent.signal, 10);
    bounded.done();
    await new Promise((resolve) => setTimeout(resolve, 40));
    parent.abort();
    expect(bounded.signal.aborted).toBe(false);
  });
});
