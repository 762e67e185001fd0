import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../src/buffer/group-commit.js';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A write function whose calls are recorded and complete only when the test says so. */
class ControlledWriter {
  readonly calls: number[][] = [];
  /** Whether each call asked for a sync. */
  readonly syncs: boolean[] = [];
  private readonly inFlight: Deferred[] = [];

  readonly write = (ops: number[], sync: boolean): Promise<void> => {
    this.calls.push([...ops]);
    this.syncs.push(sync);
    const d = deferred();
    this.inFlight.push(d);
    return d.promise;
  };

  /** Completes the write with the given index (0-based, in call order). */
  succeed(i: number): void {
    this.inFlight[i]!.resolve();
  }

  fail(i: number, err: unknown): void {
    this.inFlight[i]!.reject(err);
  }
}

type Outcome = { state: 'pending' } | { state: 'resolved' } | { state: 'rejected'; error: unknown };

/** Observes a promise without awaiting it. */
function track(p: Promise<void>): { readonly outcome: Outcome } {
  const box: { outcome: Outcome } = { outcome: { state: 'pending' } };
  p.then(
    () => (box.outcome = { state: 'resolved' }),
    (error: unknown) => (box.outcome = { state: 'rejected', error }),
  );
  return box;
}

/** Runs due timers and immediates (at the current fake time) and settles promises. */
const settle = (): Promise<void> => vi.advanceTimersByTimeAsync(0).then(() => undefined);

function setup(intervalMs: number, maxOps = 1000): { writer: ControlledWriter; gc: GroupCommit<number> } {
  const writer = new ControlledWriter();
  return { writer, gc: new GroupCommit<number>({ write: writer.write, intervalMs, maxOps }) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('GroupCommit: sharing writes', () => {
  it('concurrent submits share one write, in call order', async () => {
    const { writer, gc } = setup(10);
    const a = track(gc.submit([1]));
    const b = track(gc.submit([2, 3]));
    const c = track(gc.submit([4]));
    expect(gc.pendingOps).toBe(4);

    await settle();
    expect(writer.calls).toEqual([[1, 2, 3, 4]]);
    expect(gc.pendingOps).toBe(0);
    expect([a, b, c].map((t) => t.outcome.state)).toEqual(['pending', 'pending', 'pending']);

    writer.succeed(0);
    await settle();
    expect([a, b, c].map((t) => t.outcome.state)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(gc.commits).toBe(1);
  });

  it('a second batch waits for the first write to finish', async () => {
    const { writer, gc } = setup(0);
    const first = track(gc.submit([1]));
    await settle();
    expect(writer.calls).toEqual([[1]]);

    const second = track(gc.submit([2]));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(writer.calls).toEqual([[1]]);
    expect(gc.pendingOps).toBe(1);

    writer.succeed(0);
    await settle();
    expect(first.outcome.state).toBe('resolved');
    expect(writer.calls).toEqual([[1], [2]]);
    expect(second.outcome.state).toBe('pending');

    writer.succeed(1);
    await settle();
    expect(second.outcome.state).toBe('resolved');
    expect(gc.commits).toBe(2);
  });

  it('a submission without ops made during a write gets a batch of its own once the write is done', async () => {
    // A filtered reading carries only a ledger change: its device's PUBACK waits on this batch, and with no
    // later submission carrying ops it must still be written.
    const { writer, gc } = setup(0);
    track(gc.submit([1]));
    await settle();
    const ledgerOnly = track(gc.submit([]));
    writer.succeed(0);
    await settle();
    expect(writer.calls).toEqual([[1], []]);
    writer.succeed(1);
    await settle();
    expect(ledgerOnly.outcome.state).toBe('resolved');
  });

  it('starts a new write at most every intervalMs', async () => {
    const { writer, gc } = setup(100);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await vi.advanceTimersByTimeAsync(10);

    void gc.submit([2]);
    await vi.advanceTimersByTimeAsync(89); // t = 99 after the first write started
    expect(writer.calls).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(1); // t = 100
    expect(writer.calls).toEqual([[1], [2]]);
  });

  it('writes at once when the last write started more than intervalMs ago', async () => {
    const { writer, gc } = setup(100);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await vi.advanceTimersByTimeAsync(500);

    void gc.submit([2]);
    await settle();
    expect(writer.calls).toEqual([[1], [2]]);
  });
});

describe('GroupCommit: maxOps', () => {
  it('a batch of maxOps is written without waiting for the interval', async () => {
    const { writer, gc } = setup(1_000, 3);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await settle();

    void gc.submit([2, 3, 4]);
    await settle();
    expect(writer.calls).toEqual([[1], [2, 3, 4]]);
  });

  it('a batch below maxOps waits for the interval', async () => {
    const { writer, gc } = setup(1_000, 3);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await settle();

    void gc.submit([2, 3]);
    await vi.advanceTimersByTimeAsync(999);
    expect(writer.calls).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.calls).toEqual([[1], [2, 3]]);
  });

  it('a batch that reached maxOps during a write is written as soon as that write ends', async () => {
    const { writer, gc } = setup(1_000, 3);
    void gc.submit([1]);
    await settle();
    void gc.submit([2, 3]);
    void gc.submit([4]);

    writer.succeed(0);
    await settle();
    expect(writer.calls).toEqual([[1], [2, 3, 4]]);
  });

  // Fails today: see the report (schedule() returns early while the interval timer is armed).
  it('a batch that reaches maxOps while waiting for the interval is written without waiting', async () => {
    const { writer, gc } = setup(1_000, 3);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await settle();

    void gc.submit([2]); // below maxOps: waits for the interval (timer armed)
    void gc.submit([3, 4]); // now maxOps are pending
    await settle();
    expect(writer.calls).toEqual([[1], [2, 3, 4]]);
  });
});

describe('GroupCommit: failed writes', () => {
  it('rejects exactly the callers of the failed batch; later batches still succeed', async () => {
    const { writer, gc } = setup(0);
    const a = track(gc.submit([1]));
    const b = track(gc.submit([2]));
    await settle();
    const c = track(gc.submit([3])); // joins the next batch while the first is in flight

    const diskFull = new Error('disk full');
    writer.fail(0, diskFull);
    await settle();
    expect(a.outcome).toEqual({ state: 'rejected', error: diskFull });
    expect(b.outcome).toEqual({ state: 'rejected', error: diskFull });
    expect(c.outcome.state).toBe('pending');
    expect(writer.calls).toEqual([[1, 2], [3]]);

    writer.succeed(1);
    await settle();
    expect(c.outcome.state).toBe('resolved');

    const d = track(gc.submit([4]));
    await settle();
    writer.succeed(2);
    await settle();
    expect(d.outcome.state).toBe('resolved');
    expect(gc.commits).toBe(2);
  });
});

describe('GroupCommit: drain', () => {
  it('resolves at once when nothing was submitted', async () => {
    const { writer, gc } = setup(1_000);
    await expect(gc.drain()).resolves.toBeUndefined();
    expect(writer.calls).toEqual([]);
  });

  it('writes a batch that is waiting for the interval without waiting', async () => {
    const { writer, gc } = setup(1_000);
    void gc.submit([1]);
    await settle();
    writer.succeed(0);
    await settle();

    const waiting = track(gc.submit([2]));
    const drained = track(gc.drain());
    await settle();
    expect(writer.calls).toEqual([[1], [2]]);
    expect(drained.outcome.state).toBe('pending');

    writer.succeed(1);
    await settle();
    expect(waiting.outcome.state).toBe('resolved');
    expect(drained.outcome.state).toBe('resolved');
    expect(gc.pendingOps).toBe(0);
  });

  it('waits for the write in flight and for the batch queued behind it', async () => {
    const { writer, gc } = setup(0);
    void gc.submit([1]);
    await settle();
    void gc.submit([2]);

    const drained = track(gc.drain());
    await settle();
    expect(drained.outcome.state).toBe('pending');

    writer.succeed(0);
    await settle();
    expect(writer.calls).toEqual([[1], [2]]);
    expect(drained.outcome.state).toBe('pending');

    writer.succeed(1);
    await settle();
    expect(drained.outcome.state).toBe('resolved');
    expect(gc.commits).toBe(2);
  });

  it('resolves (does not reject) when the drained write fails; the caller sees the failure', async () => {
    const { writer, gc } = setup(0);
    const submitted = track(gc.submit([1]));
    await settle();
    const drained = track(gc.drain());

    writer.fail(0, new Error('io'));
    await settle();
    expect(drained.outcome.state).toBe('resolved');
    expect(submitted.outcome.state).toBe('rejected');
  });
});

describe('GroupCommit: sync', () => {
  it('syncs a batch when any of its submissions asks for it, and not one whose submissions all waive it', async () => {
    const { writer, gc } = setup(0);
    const unsynced = gc.submit([1], false);
    await settle();
    writer.succeed(0);
    await unsynced;
    const a = gc.submit([2], false);
    const b = gc.submit([3]);
    await settle();
    writer.succeed(1);
    await Promise.all([a, b]);
    expect(writer.calls).toEqual([[1], [2, 3]]);
    expect(writer.syncs).toEqual([false, true]);
  });
});

