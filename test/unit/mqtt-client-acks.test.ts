import { describe, expect, it } from 'vitest';
import { InFlightLimit } from '../../src/sources/mqtt-client/in-flight-limit.js';
import { OrderedAcks } from '../../src/sources/mqtt-client/ordered-acks.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('OrderedAcks', () => {
  it('acknowledges in arrival order, each only after its own commit and all earlier ones', async () => {
    const sent: number[] = [];
    const acks = new OrderedAcks(() => undefined);
    const commits = [deferred(), deferred(), deferred()];
    commits.forEach((c, i) => acks.push(c.promise, () => sent.push(i + 1)));
    commits[2]!.resolve();
    commits[1]!.resolve();
    await tick();
    expect(sent).toEqual([]);
    commits[0]!.resolve();
    await tick();
    expect(sent).toEqual([1, 2, 3]);
    expect(acks.waiting).toBe(0);
  });

  it('sends nothing after a failed commit, and reports the failure once', async () => {
    const sent: number[] = [];
    const failures: unknown[] = [];
    const acks = new OrderedAcks((err) => failures.push(err));
    const commits = [deferred(), deferred(), deferred(), deferred()];
    commits.forEach((c, i) => acks.push(c.promise, () => sent.push(i + 1)));
    commits[0]!.resolve();
    commits[1]!.reject(new Error('disk gone'));
    commits[2]!.resolve();
    commits[3]!.reject(new Error('again'));
    await tick();
    expect(sent).toEqual([1]);
    expect(failures).toHaveLength(1);
    expect(acks.failed).toBe(true);
  });

  it('passes QoS 0 entries (no ack) without holding the ones behind them back', async () => {
    const sent: string[] = [];
    const acks = new OrderedAcks(() => undefined);
    acks.push(Promise.resolve(), null);
    acks.push(Promise.resolve(), () => sent.push('qos1'));
    await tick();
    expect(sent).toEqual(['qos1']);
  });
});

describe('InFlightLimit', () => {
  it('blocks at the bound and hands a released slot to the next waiter', async () => {
    const limit = new InFlightLimit(2);
    const signal = new AbortController().signal;
    await limit.acquire(signal);
    await limit.acquire(signal);
    let third = false;
    const waiting = limit.acquire(signal).then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    limit.release();
    await waiting;
    expect(limit.inFlight).toBe(2);
  });

  it('gives up a wait when its signal aborts', async () => {
    const limit = new InFlightLimit(1);
    const controller = new AbortController();
    await limit.acquire(controller.signal);
    const waiting = limit.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    limit.release();
    expect(limit.inFlight).toBe(0);
  });
});
