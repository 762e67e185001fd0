import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { RateLimitedLog } from '../../src/core/rate-limited-log.js';

/** A logger whose lines are parsed into `lines`, synchronously. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/** pino writes to a stream: let its write callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RateLimitedLog', () => {
  it('logs the first occurrence of a key, then one "N similar suppressed" line when its interval ends', async () => {
    const clock = new ManualClock(1_000);
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 10_000, clock);
    for (let i = 0; i < 5; i++) log.warn('mqtt:invalid_json', { topic: `devices/d${i}/t` }, 'message rejected');
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(['message rejected']);
    expect(lines[0]!.topic).toBe('devices/d0/t');

    await clock.advance(9_999);
    await settle();
    expect(lines).toHaveLength(1);
    // A burst followed by silence still gets its summary, on the clock's timer.
    await clock.advance(1);
    await settle();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ key: 'mqtt:invalid_json', suppressed: 4, spanMs: 10_000, msg: 'mqtt:invalid_json: 4 similar suppressed in the last 10 s' });
  });

  it('keeps one summary per reason, and a key whose interval ended logs a first line again', async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 1_000, clock);
    log.warn('a', {}, 'first a');
    log.warn('b', {}, 'first b');
    log.warn('a', {}, 'second a');
    log.warn('a', {}, 'third a');
    log.warn('b', {}, 'second b');
    await clock.advance(1_000);
    log.warn('a', {}, 'a again');
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(['first a', 'first b', 'a: 2 similar suppressed in the last 1 s', 'b: 1 similar suppressed in the last 1 s', 'a again']);
  });

  it('says nothing more for a key with nothing suppressed', async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 1_000, clock);
    log.warn('a', {}, 'only a');
    await clock.advance(5_000);
    log.flush();
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(['only a']);
  });

  it('flush logs what is held back at once (the owner stops before the interval ends)', async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = capture();
    const log = new RateLimitedLog(logger, 10_000, clock);
    log.warn('serial:invalid_frame', {}, 'garbage on the line');
    log.warn('serial:invalid_frame', {}, 'garbage on the line');
    await clock.advance(250);
    log.flush();
    await settle();
    expect(lines.map((l) => l.msg)).toEqual(['garbage on the line', 'serial:invalid_frame: 1 similar suppressed in the last 250 ms']);
    // Flushed and disarmed: its timer does not log the summary a second time.
    await clock.advance(20_000);
    await settle();
    expect(lines).toHaveLength(2);
  });
});
