import { afterEach, describe, expect, it } from 'vitest';
import { AWS_SHARD_LIMITS } from '../helpers/kinesis-shard-limits.js';
import { gatewayBehindFaultProxy, publishReadings, waitUntilDrained, type FaultyKinesis } from '../helpers/faulty-kinesis.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { pacedBurst } from '../../src/sinks/kinesis/shard-pacer.js';

// The defaults (kinesis.concurrency, kinesis.pacing.share), spelled out because the offered bound depends on them.
const CONCURRENCY = 2;
const SHARE = 0.9;

/**
 * Delivery under the faults AWS produces and kinesalite does not, through the fault proxy. Every test
 * asserts on what landed in the stream (de-aggregated, by record id and device seq) and on bounds that hold
 * for any correct sink: resend exactly the failed entries, back off, never lose an acknowledged reading.
 */
describe('Kinesis delivery under faults', () => {
  let rig: FaultyKinesis | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await cleanup?.();
  });

  const setup = async (stream: string, opts: Parameters<typeof gatewayBehindFaultProxy>[2] = {}): Promise<FaultyKinesis> => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await gatewayBehindFaultProxy(temp.dir, stream, opts);
    return rig;
  };

  /** Only readings the sink had a reason to resend (a failed entry, a lost response) may be duplicated or reordered. */
  const expectOnlyResentAreOutOfLine = (rig: FaultyKinesis, audit: { duplicateIds: Map<string, number>; reorderedIds: string[] }): void => {
    const resent = new Set([...rig.proxy.failedIds, ...rig.proxy.droppedIds]);
    expect([...audit.duplicateIds.keys()].filter((id) => !rig.proxy.droppedIds.has(id))).toEqual([]);
    expect(audit.reorderedIds.filter((id) => !resent.has(id))).toEqual([]);
  };

  it('partial failures (throttled and internal entries): nothing lost, successes never re-sent', async () => {
    const r = await setup('partial-stream', { seed: 11, faults: { entryFailures: { share: 0.3, code: 'ProvisionedThroughputExceededException' } } });
    const expected = await publishReadings(r.mqttUrl, { prefix: 'pa-', devices: 10, perDevice: 100 });
    await expect.poll(() => r.proxy.stats().entriesFailed.injected, { timeout: 15_000 }).toBeGreaterThan(0);
    r.proxy.setFaults({ entryFailures: { share: 0.3, code: 'InternalFailure' } });
    for (const k of await publishReadings(r.mqttUrl, { prefix: 'pb-', devices: 10, perDevice: 100 })) expected.add(k);
    // Acknowledged is not yet sent: the second kind of failure must have been met by a call before it ends
    // (pacing, slowed by the throttles, may hold calls back for a while). Watched in the proxy's call log, not
    // its injected count: a call that drew its throttles before the switch is counted only once its upstream
    // forward returns, after it.
    const metInternal = (): boolean => r.proxy.calls.some((c) => c.operation === 'PutRecords' && c.entries.includes('InternalFailure'));
    await expect.poll(metInternal, { timeout: 15_000 }).toBe(true);
    r.proxy.setFaults({ entryFailures: null });

    const { audit } = await waitUntilDrained(r, 'partial-stream', expected, 30_000);
    expect(audit.lost).toEqual([]);
    // No response was dropped, so a correct sink wrote nothing twice (unless a call outlived the client's
    // timeout on a loaded machine: the proxy counts those as lost responses too).
    expect(audit.extraCopies).toBeLessThanOrEqual(r.proxy.stats().userRecordsInDroppedResponses);
    expectOnlyResentAreOutOfLine(r, audit);
    const calls = r.proxy.calls.filter((c) => c.operation === 'PutRecords');
    expect(calls.some((c) => c.entries.includes('ProvisionedThroughputExceededException'))).toBe(true);
    expect(calls.some((c) => c.entries.includes('InternalFailure'))).toBe(true);
    expect(r.gateway.bufferStats().buffered).toBe(0);
  });

  it('lost responses: duplicates only of the calls whose response was dropped, bounded by them; nothing lost', async () => {
    const r = await setup('dropped-stream', { faults: { dropResponses: 3 } });
    const expected = await publishReadings(r.mqttUrl, { prefix: 'dr-', devices: 5, perDevice: 200 });
    const { audit } = await waitUntilDrained(r, 'dropped-stream', expected, 30_000);
    expect(audit.lost).toEqual([]);
    const stats = r.proxy.stats();
    expect(stats.responsesDropped).toBeGreaterThanOrEqual(1);
    // The sink cannot know a dropped call was written: it resends, and the copies are bounded by those calls.
    expect(audit.extraCopies).toBeGreaterThan(0);
    expect(audit.extraCopies).toBeLessThanOrEqual(stats.userRecordsInDroppedResponses);
    expectOnlyResentAreOutOfLine(r, audit);
    expect(r.gateway.bufferStats().buffered).toBe(0);
  });

  it('a 5xx outage: backoff grows to its cap, the call count stays bounded, the backlog drains after recovery', async () => {
    const retry = { baseDelayMs: 50, maxDelayMs: 2_000 };
    // One shard: a sink that sends one call per shard still has a single retry sequence to measure.
    const r = await setup('outage-5xx-stream', { shards: 1, faults: { callFailures: { kind: 'http503', calls: Infinity } }, config: { kinesis: { retry, concurrency: 1 } } });
    const expected = await publishReadings(r.mqttUrl, { prefix: 'o5-', devices: 3, perDevice: 100 });
    // Sixteen failed calls: ten retries drawn with a cap of 1.6 s or more (about 11 s of the outage on average,
    // at most 21 s when every draw is its cap).
    await expect.poll(() => r.proxy.stats().callsFailed, { timeout: 40_000, interval: 50 }).toBeGreaterThanOrEqual(16);
    const failed = r.proxy.calls.filter((c) => c.outcome === 'call-failed').map((c) => c.at);
    r.proxy.setFaults({ callFailures: null });

    const gaps = failed.slice(1).map((t, i) => t - failed[i]!);
    // Capped: no wait longer than maxDelayMs (plus the call and scheduling time on a loaded machine).
    for (const g of gaps) expect(g).toBeLessThanOrEqual(retry.maxDelayMs + 1_000);
    // Grows: the first waits are drawn below 50 and 100 ms, later ones between 160 ms and the 2 s cap. Ten of
    // them all under 600 ms has a chance of about 4 in 10 million (0.31 for the 1.6 s cap, 0.22 for each at
    // 2 s); with five, as before, it was about 1 in 1,400, and a CI run drew it.
    expect(Math.max(gaps[0]!, gaps[1]!)).toBeLessThan(600);
    expect(Math.max(...gaps.slice(5))).toBeGreaterThanOrEqual(600);
    // Bounded: the backoff never waits less than a tenth of its current cap, so in the time the outage
    // lasted at most this many calls fit (a hot loop would make thousands).
    const span = failed.at(-1)! - failed[0]!;
    expect(failed.length).toBeLessThanOrEqual(maxCallsWithin(span, retry) * 1 /* concurrency */);

    const { audit } = await waitUntilDrained(r, 'outage-5xx-stream', expected, 30_000);
    expect(audit.lost).toEqual([]);
    expect(audit.extraCopies).toBeLessThanOrEqual(r.proxy.stats().userRecordsInDroppedResponses);
    expectOnlyResentAreOutOfLine(r, audit);
  }, 90_000);

  it('a black-holed endpoint: each call ends at requestTimeoutMs, no hot loop, and everything drains afterwards', async () => {
    const requestTimeoutMs = 800;
    const r = await setup('blackhole-stream', { faults: { blackHole: true }, config: { kinesis: { requestTimeoutMs, concurrency: 2, retry: { baseDelayMs: 50, maxDelayMs: 500 } } } });
    const started = Date.now();
    const expected = await publishReadings(r.mqttUrl, { prefix: 'bh-', devices: 4, perDevice: 50 });
    await expect.poll(() => r.proxy.stats().blackHoled, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(6);
    const during = Date.now() - started;
    // Each split has at most one call in flight, and a call lasts requestTimeoutMs here.
    expect(r.proxy.putRecordsCallsBetween(started, Date.now())).toBeLessThanOrEqual(2 * (Math.floor(during / requestTimeoutMs) + 1));
    r.proxy.setFaults({ blackHole: false });

    const { audit } = await waitUntilDrained(r, 'blackhole-stream', expected, 30_000);
    expect(audit.lost).toEqual([]);
    // Nothing reached the stream during the black-hole, so nothing may be duplicated or reordered (but for
    // calls that outlive the client's timeout afterwards, which the proxy counts as lost responses).
    expect(audit.extraCopies).toBeLessThanOrEqual(r.proxy.stats().userRecordsInDroppedResponses);
    expectOnlyResentAreOutOfLine(r, audit);
  });

  it('a backlog on one shard drains within 1,000 records/s, and a mix of 50 B to 900 KiB readings within 1 MiB/s per shard', async () => {
    const r = await setup('limits-stream', { shards: 1, config: { mqtt: { maxPayloadBytes: 1_048_576 }, kinesis: { concurrency: CONCURRENCY, pacing: { mode: 'on', share: SHARE } } } });
    // 3,000 small readings published while Kinesis throttles: at least 3 s at the shard's record limit.
    r.proxy.setFaults({ blackHole: true });
    const expected = await publishReadings(r.mqttUrl, { prefix: 'lr-', devices: 3, perDevice: 1_000, inFlight: 100 });
    r.proxy.setFaults({ blackHole: false });
    // Sizes from 50 B to 900 KiB, one of the largest per device.
    const size = (seq: number): number => (seq % 10 === 5 ? 900 * 1024 : [50, 400, 2_000, 20_000, 120_000][seq % 5]!);
    for (const k of await publishReadings(r.mqttUrl, { prefix: 'sz-', devices: 4, perDevice: 10, inFlight: 5, payload: (_, seq) => ({ pad: 'x'.repeat(size(seq) - 20) }) })) expected.add(k);

    const { records, audit } = await waitUntilDrained(r, 'limits-stream', expected, 45_000);
    expect(audit.lost).toEqual([]);
    expect(audit.extraCopies).toBeLessThanOrEqual(r.proxy.stats().userRecordsInDroppedResponses);
    expectOnlyResentAreOutOfLine(r, audit);
    for (const rec of records.filter((x) => x.deviceId.startsWith('sz-'))) expect((rec.values.pad as string).length).toBe(size(rec.seq) - 20);
    // The per-second ledger of the shard never went over the AWS limits.
    const peak = r.proxy.stats().peakShardSecond;
    expect(peak.records).toBeLessThanOrEqual(AWS_SHARD_LIMITS.recordsPerSecond);
    expect(peak.bytes).toBeLessThanOrEqual(AWS_SHARD_LIMITS.bytesPerSecond);
    // What the gateway offered (accepted or refused) in any shard-second: within the limit plus what the
    // calls in flight at the second's start took before it, each at most the pacer's burst.
    const offered = r.proxy.stats().peakOfferedShardSecond;
    expect(offered.records).toBeLessThanOrEqual(AWS_SHARD_LIMITS.recordsPerSecond + CONCURRENCY * pacedBurst(AWS_SHARD_LIMITS.recordsPerSecond * SHARE, SHARE));
    const largest = 900 * 1024 + 64;
    expect(offered.bytes).toBeLessThanOrEqual(AWS_SHARD_LIMITS.bytesPerSecond + CONCURRENCY * Math.max(largest, pacedBurst(AWS_SHARD_LIMITS.bytesPerSecond * SHARE, SHARE)));
    // What the proxy let through, in readings: each once, plus at most the copies of lost responses.
    const { userRecordsAccepted, userRecordsInDroppedResponses } = r.proxy.stats();
    expect(userRecordsAccepted).toBeGreaterThanOrEqual(expected.size);
    expect(userRecordsAccepted).toBeLessThanOrEqual(expected.size + userRecordsInDroppedResponses);
  });

  it('negative control: unpaced, the same backlog offers the shard more than its limit in some second', async () => {
    const r = await setup('unpaced-limits-stream', { shards: 1, config: { kinesis: { pacing: { mode: 'off' } } } });
    r.proxy.setFaults({ blackHole: true });
    const expected = await publishReadings(r.mqttUrl, { prefix: 'un-', devices: 3, perDevice: 1_000, inFlight: 100 });
    r.proxy.setFaults({ blackHole: false });
    const { audit } = await waitUntilDrained(r, 'unpaced-limits-stream', expected, 45_000);
    expect(audit.lost).toEqual([]);
    // The check above is not vacuous: without pacing the offered ledger goes over the bound the paced run is
    // held to, the limit and a burst for each call in flight (6,100 and 8,600 records in a second, measured).
    expect(r.proxy.stats().peakOfferedShardSecond.records).toBeGreaterThan(AWS_SHARD_LIMITS.recordsPerSecond + CONCURRENCY * pacedBurst(AWS_SHARD_LIMITS.recordsPerSecond * SHARE, SHARE));
    expect(r.proxy.stats().peakShardSecond.records).toBeLessThanOrEqual(AWS_SHARD_LIMITS.recordsPerSecond);
  });
});

/** The most calls a sink can make in `spanMs` if every wait is at least a tenth of the backoff's current cap (src/core/backoff.ts). */
function maxCallsWithin(spanMs: number, retry: { baseDelayMs: number; maxDelayMs: number }): number {
  let calls = 1;
  let elapsed = 0;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    elapsed += Math.max(1, Math.round(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt) / 10));
    if (elapsed > spanMs) break;
    calls += 1;
  }
  return calls;
}
