import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withTimeout } from '../../src/core/abort.js';
import { Metrics } from '../../src/core/metrics.js';
import type { Reading } from '../../src/normalize/reading.js';
import { listDeadLetters } from '../../src/buffer/dead-letters.js';
import { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { KINESIS_MAX_BYTES_PER_CALL, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS_PER_CALL, type BatchLimits } from '../../src/sinks/kinesis/limits.js';
import type { KinesisPort, PutEntry, PutEntryResult, StreamSummary } from '../../src/sinks/kinesis/port.js';
import type { ShardRange } from '../../src/sinks/kinesis/shard-map.js';
import { KinesisSink } from '../../src/sinks/kinesis/sink.js';

const SINK_ID = 'kinesis';
const STREAM = 'test-stream';
const WAIT = { timeout: 10_000, interval: 5 };
const LIMITS: BatchLimits = { maxRecords: KINESIS_MAX_RECORDS_PER_CALL, maxBytes: KINESIS_MAX_BYTES_PER_CALL, maxRecordBytes: KINESIS_MAX_RECORD_BYTES };

/** What a sent entry looked like, copied at call time. */
interface SentEntry {
  partitionKey: string;
  data: string;
}

/** One scripted answer: results for the entries, or an error thrown for the whole call. */
type Step = ((entries: readonly PutEntry[], signal: AbortSignal) => PutEntryResult[] | Promise<PutEntryResult[]>) | { throw: Error };

const ok: PutEntryResult = { ok: true, shardId: 'shardId-000000000000' };
const allOk = (entries: readonly PutEntry[]): PutEntryResult[] => entries.map(() => ok);

function awsError(name: string, message = `${name} (scripted)`): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** A hand-written KinesisPort: records every call and answers from a script, then with success. */
class FakeKinesisPort implements KinesisPort {
  readonly calls: SentEntry[][] = [];
  readonly streams = new Set<string>();
  readonly script: Step[] = [];
  /** Used once the script is exhausted. */
  fallback: Step = allOk;
  /** What DescribeStreamSummary reports as MaxRecordSizeInKiB × 1024 (null: not reported). */
  maxRecordBytes: number | null = null;
  closed = false;

  async putRecords(streamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    this.streams.add(streamName);
    this.calls.push(entries.map((e) => ({ partitionKey: e.partitionKey, data: Buffer.from(e.data).toString('utf8') })));
    const step = this.script.shift() ?? this.fallback;
    if (typeof step !== 'function') throw step.throw;
    return step(entries, signal);
  }

  async describeStream(): Promise<StreamSummary> {
    return { status: 'ACTIVE', shards: 1, maxRecordBytes: this.maxRecordBytes };
  }

  async listShards(): Promise<ShardRange[]> {
    return [{ shardId: 'shardId-000000000000', startingHashKey: '0', endingHashKey: (2n ** 128n - 1n).toString(), closed: false }];
  }

  close(): void {
    this.closed = true;
  }
}

function reading(i: number, extra: Record<string, string> = {}): Reading {
  return { deviceId: `dev-${i % 7}`, topic: `devices/dev-${i % 7}/telemetry`, seq: i, receivedAt: 1_715_000_000_000 + i, values: { n: i, ...extra } };
}

interface Harness {
  buffer: LevelBuffer;
  port: FakeKinesisPort;
  metrics: Metrics;
  sink: KinesisSink;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A real LevelBuffer in its own temp dir, holding `readings` before the sink starts. */
async function harness(readings: Reading[], opts: { limits?: BatchLimits; maxAgeMs?: number; requestTimeoutMs?: number; port?: FakeKinesisPort; learnRecordLimit?: boolean } = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-sink-'));
  const buffer = new LevelBuffer({ dir, gatewayId: 'gw', durability: 'os', commitIntervalMs: 0, maxCommitRecords: 10_000, sinkIds: [SINK_ID] });
  await buffer.open();
  let sink: KinesisSink | null = null;
  cleanups.push(async () => {
    await sink?.stop(AbortSignal.timeout(1_000));
    await buffer.close();
    await rm(dir, { recursive: true, force: true });
  });
  if (readings.length > 0) await buffer.append(readings);

  const port = opts.port ?? new FakeKinesisPort();
  const metrics = new Metrics();
  sink = new KinesisSink({
    id: SINK_ID,
    streamName: STREAM,
    limits: opts.limits ?? LIMITS,
    maxAgeMs: opts.maxAgeMs ?? 0,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
    buffer,
    port,
    logger: pino({ level: 'silent' }),
    metrics,
    learnRecordLimit: opts.learnRecordLimit ?? false,
  });
  return { buffer, port, metrics, sink };
}

async function stopAndCheckStopped(sink: KinesisSink): Promise<void> {
  await withTimeout(sink.stop(new AbortController().signal), 2_000, 'sink.stop');
}

describe('KinesisSink: partial failures', () => {
  it('resends exactly the refused entries, then commits through the last sequence', async () => {
    const { buffer, port, metrics, sink } = await harness([1, 2, 3, 4, 5].map((i) => reading(i)));
    port.script.push((entries) =>
      entries.map((_, i) => (i === 1 || i === 3 ? { ok: false, errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'Rate exceeded for shard' } : ok)),
    );

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(5), WAIT);
    await stopAndCheckStopped(sink);

    expect([...port.streams]).toEqual([STREAM]);
    expect(port.calls).toHaveLength(2);
    const [first, second] = port.calls as [SentEntry[], SentEntry[]];
    expect(first).toHaveLength(5);
    expect(second).toEqual([first[1], first[3]]);
    expect(JSON.parse(second[0]!.data)).toMatchObject({ id: 'gw-2', seq: 2, values: { n: 2 } });
    expect(JSON.parse(second[1]!.data)).toMatchObject({ id: 'gw-4', seq: 4, values: { n: 4 } });

    expect(await buffer.read('telemetry', 0, 100)).toEqual([]);
    expect(buffer.stats().buffered).toBe(0);
    expect(metrics.get('readings_delivered_total')).toBe(5);
    expect(metrics.get('kinesis_entry_failures_total', { code: 'ProvisionedThroughputExceededException' })).toBe(2);
    expect(metrics.get('kinesis_entry_failures_total')).toBe(2);
    expect(metrics.get('kinesis_calls_total')).toBe(2);
    expect(sink.health()).toEqual({ status: 'ok', reasons: [] });
  });

  it('keeps the cursor below the first refused entry until it is delivered', async () => {
    const { buffer, port, sink } = await harness([1, 2, 3].map((i) => reading(i)));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    port.script.push((entries) => entries.map((_, i) => (i === 1 ? { ok: false, errorCode: 'InternalFailure', errorMessage: 'x' } : ok)));
    // The resend waits until the test has looked at the cursor.
    port.script.push(async (entries) => {
      await released;
      return allOk(entries);
    });

    await sink.start();
    await vi.waitFor(() => expect(port.calls).toHaveLength(2), WAIT);
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(1), WAIT);
    // 3 was delivered and is removed at once (a crash must not send it again); only 2 waits, the cursor below it.
    expect((await buffer.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([2]);

    release();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(3), WAIT);
  });
});

describe('KinesisSink: whole-call failures', () => {
  it('re-sends the same batch after a retryable error and delivers it', async () => {
    const { buffer, port, metrics, sink } = await harness([1, 2, 3, 4, 5].map((i) => reading(i)));
    port.script.push({ throw: awsError('ServiceUnavailable') });

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(5), WAIT);
    await stopAndCheckStopped(sink);

    expect(port.calls).toHaveLength(2);
    expect(port.calls[1]).toEqual(port.calls[0]);
    expect(port.calls[0]).toHaveLength(5);
    expect(await buffer.read('telemetry', 0, 100)).toEqual([]);
    expect(metrics.get('kinesis_call_failures_total', { code: 'ServiceUnavailable' })).toBe(1);
    expect(metrics.get('readings_delivered_total')).toBe(5);
    expect(sink.health().status).toBe('ok');
  });

  it('retries a call that hit requestTimeoutMs', async () => {
    const { buffer, port, sink } = await harness([1, 2].map((i) => reading(i)), { requestTimeoutMs: 20 });
    // The first call never answers; it fails only when the sink aborts it at the request timeout.
    port.script.push(
      (_entries, signal) =>
        new Promise<PutEntryResult[]>((_, reject) => signal.addEventListener('abort', () => reject(awsError('AbortError', 'aborted')), { once: true })),
    );

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(2), WAIT);
    expect(port.calls).toHaveLength(2);
    expect(port.calls[1]).toEqual(port.calls[0]);
  });

  it('reports an operator error as degraded, keeps the data, and recovers once the port succeeds', async () => {
    const { buffer, port, metrics, sink } = await harness([1, 2, 3].map((i) => reading(i)));
    port.fallback = { throw: awsError('ResourceNotFoundException', 'Stream test-stream not found') };

    await sink.start();
    await vi.waitFor(() => expect(sink.health().status).toBe('degraded'), WAIT);
    const health = sink.health();
    expect(health.reasons).toHaveLength(1);
    expect(health.reasons[0]).toContain('ResourceNotFoundException');
    expect(health.reasons[0]).toContain('the stream does not exist');
    expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(0);
    expect((await buffer.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(metrics.get('readings_delivered_total')).toBe(0);

    // Probed again at maxDelayMs: it keeps failing until the stream exists.
    await vi.waitFor(() => expect(metrics.get('kinesis_call_failures_total', { code: 'ResourceNotFoundException' })).toBeGreaterThanOrEqual(2), WAIT);
    expect(sink.health().status).toBe('degraded');

    port.fallback = allOk;
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(3), WAIT);
    expect(sink.health()).toEqual({ status: 'ok', reasons: [] });
    await stopAndCheckStopped(sink);
    expect(await buffer.read('telemetry', 0, 10)).toEqual([]);
    expect(metrics.get('readings_delivered_total')).toBe(3);
    // Every call carried the same three records.
    for (const call of port.calls) expect(call).toEqual(port.calls[0]);
  });
});

describe('KinesisSink: limits', () => {
  it('sends 1,200 queued records in calls of at most 500 entries, in order', async () => {
    const readings = Array.from({ length: 1_200 }, (_, i) => reading(i + 1));
    const { buffer, port, metrics, sink } = await harness(readings);

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(1_200), WAIT);
    await stopAndCheckStopped(sink);

    expect(port.calls.map((c) => c.length)).toEqual([500, 500, 200]);
    const ids = port.calls.flat().map((e) => (JSON.parse(e.data) as { id: string }).id);
    expect(ids).toEqual(readings.map((_, i) => `gw-${i + 1}`));
    expect(metrics.get('readings_delivered_total')).toBe(1_200);
    expect(metrics.get('kinesis_calls_total')).toBe(3);
    expect(await buffer.read('telemetry', 0, 10)).toEqual([]);
  });

  it('respects a smaller byte limit per call', async () => {
    const readings = Array.from({ length: 10 }, (_, i) => reading(i + 1));
    const limits: BatchLimits = { maxRecords: 500, maxBytes: 700, maxRecordBytes: 700 };
    const { buffer, port, sink } = await harness(readings, { limits });

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(10), WAIT);
    for (const call of port.calls) {
      const bytes = call.reduce((n, e) => n + Buffer.byteLength(e.data) + Buffer.byteLength(e.partitionKey), 0);
      expect(bytes).toBeLessThanOrEqual(700);
    }
    expect(port.calls.flat()).toHaveLength(10);
  });

  it('dead-letters a record over the per-record limit and delivers the others', async () => {
    const limits: BatchLimits = { maxRecords: 500, maxBytes: 100_000, maxRecordBytes: 1_000 };
    const { buffer, port, metrics, sink } = await harness([reading(1), reading(2, { blob: 'x'.repeat(2_000) }), reading(3)], { limits });

    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(3), WAIT);
    await stopAndCheckStopped(sink);

    expect(port.calls.flat().map((e) => (JSON.parse(e.data) as { seq: number }).seq)).toEqual([1, 3]);
    const deadLetters = await listDeadLetters(buffer, { limit: 10 });
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]!.entry).toMatchObject({ reason: 'too_large', source: SINK_ID, origin: 'dev-2' });
    expect(JSON.parse(Buffer.from(deadLetters[0]!.entry.payloadBase64!, 'base64').toString('utf8'))).toMatchObject({ seq: 2 });
    expect(metrics.get('readings_dead_lettered_total', { reason: 'too_large' })).toBe(1);
    expect(metrics.get('readings_delivered_total')).toBe(2);
  });
});

describe('KinesisSink: stop', () => {
  it('stop(deadline) while idle returns promptly', async () => {
    const { buffer, port, sink } = await harness([reading(1)]);
    await sink.start();
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(1), WAIT);

    // Idle now: waiting for new records. The deadline never fires; stop must not need it.
    await withTimeout(sink.stop(new AbortController().signal), 1_000, 'stop while idle');
    expect(port.calls).toHaveLength(1);
  });

  it('stop(deadline) while a partial batch lingers for maxAgeMs returns promptly and keeps the record', async () => {
    const { buffer, port, sink } = await harness([], { maxAgeMs: 60_000 });
    await sink.start();
    await buffer.append([reading(1)]);

    await withTimeout(sink.stop(new AbortController().signal), 1_000, 'stop while lingering');
    expect(port.calls).toHaveLength(0);
    expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(0);
    expect((await buffer.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([1]);
  });

  it('cuts the call in flight when the deadline aborts, committing nothing', async () => {
    const { buffer, port, metrics, sink } = await harness([1, 2].map((i) => reading(i)));
    port.fallback = (_entries, signal) =>
      new Promise<PutEntryResult[]>((_, reject) => signal.addEventListener('abort', () => reject(awsError('AbortError', 'aborted')), { once: true }));

    await sink.start();
    await vi.waitFor(() => expect(port.calls).toHaveLength(1), WAIT);
    const deadline = new AbortController();
    const stopped = sink.stop(deadline.signal);
    deadline.abort();
    await withTimeout(stopped, 1_000, 'stop with an aborted deadline');

    expect(port.calls).toHaveLength(1);
    expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(0);
    expect((await buffer.read('telemetry', 0, 10)).map((r) => r.seq)).toEqual([1, 2]);
    expect(metrics.get('readings_delivered_total')).toBe(0);
  });
});

describe('KinesisSink: the stream\'s record limit', () => {
  const big = (): Reading => ({ ...reading(1), values: { pad: 'x'.repeat(1536 * 1024) } });

  it('sends a 1.5 MiB reading to a stream whose maximum record size was raised to 2 MiB', async () => {
    const port = new FakeKinesisPort();
    port.maxRecordBytes = 2 * 1024 * 1024;
    const { buffer, sink, metrics } = await harness([big()], { port, learnRecordLimit: true });
    await sink.start();
    expect(sink.maxRecordBytes).toBe(2 * 1024 * 1024);
    await vi.waitFor(() => expect(metrics.get('readings_delivered_total')).toBe(1), WAIT);
    expect(port.calls[0]![0]!.data.length).toBeGreaterThan(1024 * 1024);
    expect(buffer.stats().deadLettered).toEqual({});
    await stopAndCheckStopped(sink);
  });

  it('dead-letters it as too_large, never sending it, when the stream reports no larger limit', async () => {
    const { buffer, sink, port } = await harness([big(), reading(2)], { learnRecordLimit: true });
    await sink.start();
    expect(sink.maxRecordBytes).toBe(KINESIS_MAX_RECORD_BYTES);
    await vi.waitFor(() => expect(buffer.stats().deadLettered).toEqual({ too_large: 1 }), WAIT);
    await vi.waitFor(() => expect(buffer.stats().delivered).toBe(1), WAIT);
    expect(port.calls.flat().every((e) => e.data.length < 1024 * 1024)).toBe(true);
    const letters = await listDeadLetters(buffer, { limit: 10 });
    expect(letters[0]!.entry.message).toMatch(/exceeds the record limit of 1048576 bytes/);
    await stopAndCheckStopped(sink);
  });
});

describe('KinesisSink: when a partly filled call leaves', () => {
  it('under load too, a partly filled call waits for its oldest reading to be maxAgeMs old, gathering what arrives meanwhile', async () => {
    const { buffer, port, sink } = await harness([], { maxAgeMs: 1_500 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    port.script.push(async (entries) => {
      await gate;
      return allOk(entries);
    });
    await sink.start();
    await buffer.append([reading(1)]);
    await vi.waitFor(() => expect(port.calls).toHaveLength(1), WAIT);
    // While the first call is in flight, more readings come; the sink is busy, not idle.
    await buffer.append([reading(2), reading(3)]);
    release();
    await buffer.append([reading(4)]);
    await buffer.append([reading(5)]);
    await vi.waitFor(() => expect(buffer.cursor(SINK_ID, 'telemetry')).toBe(5), WAIT);
    // Sending on return would have carried 2 and 3 alone; waiting gathers 4 and 5 into the same call.
    expect(port.calls.map((c) => c.map((e) => (JSON.parse(e.data) as { seq: number }).seq))).toEqual([[1], [2, 3, 4, 5]]);
    await stopAndCheckStopped(sink);
  });

  it('an alarm does not wait for the call to fill', async () => {
    const { buffer, port, sink } = await harness([], { maxAgeMs: 60_000 });
    await sink.start();
    await buffer.append([{ ...reading(1), lane: 'alarm', kind: 'alarm' }]);
    await vi.waitFor(() => expect(port.calls).toHaveLength(1), WAIT);
    await stopAndCheckStopped(sink);
  });
});
