import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BufferStats } from '../../src/buffer/types.js';
import type { DeliveryState } from '../../src/sinks/kinesis/destination.js';
import { HealthModel, type HealthInputs } from '../../src/telemetry/health.js';

function capture(): { logger: pino.Logger; lines: Array<{ level: number; msg: string; cause?: string }> } {
  const lines: Array<{ level: number; msg: string; cause?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const buffer = (over: Partial<BufferStats> = {}): BufferStats => ({
  received: 10, delivered: 0, buffered: 10, bufferedBytes: 1_000, deadLettered: {}, dropped: {}, filtered: 0, consumed: 0, produced: 0,
  lastSeq: 10, deadLettersStored: 0, commits: 1, maxBytes: 1_000_000, whenFull: 'block', degraded: null, ...over,
});

const failing = (since: number, code = 'ECONNREFUSED'): DeliveryState => ({
  id: 'kinesis:s', kind: 'kinesis', name: 's', routed: false, failingSince: since, lastFailure: { code, message: `connect ${code}`, credentials: false }, operatorFailure: null,
});

/** The health model logs a cause once when it begins, saying what to fix, and once when it ends. */
describe('health model log', () => {
  it('logs ERROR once per episode with the fix, and INFO on recovery, however often it is asked', () => {
    let now = 100_000;
    const { logger, lines } = capture();
    const model = new HealthModel({ failingAfterMs: 20_000, maxDeliveryLagMs: 300_000, logger, now: () => now });
    const inputs = (delivery: DeliveryState[], over: Partial<HealthInputs> = {}): HealthInputs => ({ buffer: buffer(), waitingForSpace: 0, oldestUndeliveredAgeMs: 1_000, delivery, other: [], ...over });

    expect(model.evaluate(inputs([failing(now - 19_000)])).status).toBe('ok');
    now += 1_000;
    for (let i = 0; i < 50; i++) expect(model.evaluate(inputs([failing(80_000)])).causes).toEqual(['sink_failing:kinesis:s']);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/every call has failed for 21 s .*The endpoint cannot be reached: check kinesis.endpoint/);

    // Nothing waits: a failing sink with an empty buffer is not degraded.
    expect(model.evaluate(inputs([failing(80_000)], { buffer: buffer({ buffered: 0 }) })).status).toBe('ok');
    expect(lines.filter((l) => l.level === 30 && l.msg === 'health recovered')).toHaveLength(1);

    const full = model.evaluate(inputs([], { waitingForSpace: 3 }));
    expect(full.causes).toEqual(['buffer_full']);
    const credentials = model.evaluate(inputs([{ ...failing(now), lastFailure: { code: 'CredentialsProviderError', message: 'Could not load credentials from any providers', credentials: true } }]));
    expect(credentials.causes).toEqual(['credentials']);
    expect(credentials.reasons[0]).toMatch(/AWS credentials cannot be loaded/);
    expect(lines.filter((l) => l.level === 50).map((l) => l.cause)).toEqual(['sink_failing:kinesis:s', 'buffer_full', 'credentials']);
    expect(model.evaluate(inputs([])).status).toBe('ok');
    expect(lines.filter((l) => l.level === 30 && l.msg === 'health recovered').map((l) => l.cause)).toEqual(['sink_failing:kinesis:s', 'buffer_full', 'credentials']);
  });

  it('keeps buffer_full for a few seconds after readings were dropped for want of space', () => {
    let now = 0;
    const { logger } = capture();
    const model = new HealthModel({ failingAfterMs: 20_000, maxDeliveryLagMs: 300_000, logger, now: () => now });
    const at = (dropped: number): HealthInputs => ({ buffer: buffer({ whenFull: 'drop_newest', dropped: { buffer_full: dropped } }), waitingForSpace: 0, oldestUndeliveredAgeMs: null, delivery: [], other: [] });
    expect(model.evaluate(at(0)).status).toBe('ok');
    now = 1_000;
    expect(model.evaluate(at(4)).reasons[0]).toMatch(/buffer\.whenFull: drop_newest\): readings are being dropped/);
    now = 4_000;
    expect(model.evaluate(at(4)).causes).toEqual(['buffer_full']);
    now = 7_000;
    expect(model.evaluate(at(4)).status).toBe('ok');
  });
});
