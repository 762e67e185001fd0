import { pino } from 'pino';
import { SerialPortMock } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission.js';
import { serialPortSchema } from '../../../src/sources/serial/config.js';
import { Metrics } from '../../../src/core/metrics.js';
import { compileTopicTemplate } from '../../../src/normalize/topic-map.js';
import { createMemoryBuffer } from '../../../src/buffer/memory-buffer.js';
import { listDeadLetters } from '../../../src/buffer/dead-letters.js';
import { serialportOpener, type OpenSerialLink, type SerialportLink } from '../../../src/sources/serial/serialport-link.js';
import { SerialPortSource } from '../../../src/sources/serial/source.js';

const logger = pino({ level: 'silent' });
// @serialport/binding-mock, as serialport exposes it (its own package typings do not resolve under NodeNext).
const MockBinding = SerialPortMock.binding;
type MockPortBinding = { emitData(data: string | Buffer): void };

/** Waits (bounded, polling a condition every few ms) until `done` holds. */
async function until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rig(portDoc: Record<string, unknown>) {
  const buffer = createMemoryBuffer({ gatewayId: 'gw', sinkIds: ['k'] }); await buffer.open();
  const metrics = new Metrics();
  const admission = new Admission(buffer, { matchTopic: compileTopicTemplate('devices/{deviceId}/#'), maxPayloadBytes: 1024 }, metrics, logger);
  const links: SerialportLink[] = [];
  const opener = serialportOpener(MockBinding);
  const open: OpenSerialLink = async (settings, signal) => {
    const link = (await opener(settings, signal)) as SerialportLink;
    links.push(link);
    return link;
  };
  const port = serialPortSchema.parse({ path: '/dev/ttyMOCK0', reopen: { baseDelayMs: 5, maxDelayMs: 20 }, ...portDoc });
  const source = new SerialPortSource({ port, admission, metrics, logger, open });
  const emit = (data: string | Buffer): void => (links.at(-1)!.port.port as unknown as MockPortBinding).emitData(data);
  const readings = async () => (await buffer.read('telemetry', 0, 100_000)).map((r) => JSON.parse(r.data.toString()) as { deviceId: string; seq?: number; values: Record<string, unknown> });
  return { buffer, metrics, source, links, emit, readings };
}

beforeEach(() => MockBinding.createPort('/dev/ttyMOCK0', { echo: false, record: false }));
afterEach(() => MockBinding.reset());

describe('serial source on the mock binding', () => {
  it('kv lines split across chunks become readings in few commits; junk and over-cap lines are dead-lettered and counted', async () => {
    const r = await rig({ framing: 'kv', maxFrameBytes: 64 });
    await r.source.start();
    try {
      r.emit('deviceId=a seq=1 t=1\r\ndeviceId=a se');
      r.emit('q=2 t=2\n\u0000\u0000garbage\n' + 'x'.repeat(200) + '\ndeviceId=b seq=1 t=3\n');
      await until(() => r.buffer.stats().received >= 5, 'five messages');
      expect((await r.readings()).map((x) => `${x.deviceId}#${x.seq}`)).toEqual(['a#1', 'a#2', 'b#1']);
      expect((await listDeadLetters(r.buffer)).map((d) => d.entry.reason)).toEqual(['invalid_frame', 'frame_too_large']);
      const big = (await listDeadLetters(r.buffer))[1]!.entry;
      expect(big.message).toMatch(/line of 200 bytes exceeds serial\[\]\.maxFrameBytes \(64\)/);
      expect(Buffer.from(big.payloadBase64!, 'base64').length).toBeLessThanOrEqual(256);
      expect(r.metrics.get('serial_frames_total', { port: 'ttyMOCK0' })).toBe(5);
      expect(r.metrics.get('serial_frame_errors_total', { port: 'ttyMOCK0', reason: 'invalid_frame' })).toBe(1);
      expect(r.metrics.get('serial_frame_errors_total', { port: 'ttyMOCK0', reason: 'frame_too_large' })).toBe(1);
    } finally {
      await r.source.stop(AbortSignal.timeout(2_000));
    }
  });

  it('jsonl with a fixed device id, and csv with configured columns', async () => {
    const j = await rig({ framing: 'jsonl', deviceId: 'pump-1' });
    await j.source.start();
    j.emit('{"seq":1,"flow":2.5}\n{"seq":2,"flow":2.6}\n');
    await until(() => j.buffer.stats().buffered === 2, 'two readings');
    expect((await j.readings()).map((x) => [x.deviceId, x.values.flow])).toEqual([['pump-1', 2.5], ['pump-1', 2.6]]);
    await j.source.stop(AbortSignal.timeout(2_000));
    MockBinding.reset();
    MockBinding.createPort('/dev/ttyMOCK0', { echo: false, record: false });
    const c = await rig({ framing: 'csv', columns: ['deviceId', 'seq', 'temp'] });
    await c.source.start();
    c.emit('th-1,1,20.5\nth-2,1,19\n');
    await until(() => c.buffer.stats().buffered === 2, 'two csv readings');
    expect((await c.readings()).map((x) => [x.deviceId, x.values.temp])).toEqual([['th-1', 20.5], ['th-2', 19]]);
    await c.source.stop(AbortSignal.timeout(2_000));
  });

  it('reopens after the port closes and after it errors, counted by reason, and reads again', async () => {
    const r = await rig({ framing: 'kv' });
    await r.source.start();
    try {
      r.emit('deviceId=a seq=1 t=1\n');
      await until(() => r.buffer.stats().buffered === 1, 'first reading');
      r.links[0]!.port.close();
      await until(() => r.links.length === 2 && r.source.isOpen, 'reopen after close');
      r.emit('deviceId=a seq=2 t=1\npartial');
      await until(() => r.buffer.stats().buffered === 2, 'second reading');
      r.links[1]!.port.destroy(new Error('EIO: the adapter went away'));
      await until(() => r.links.length === 3 && r.source.isOpen, 'reopen after error');
      r.emit('deviceId=a seq=3 t=1\n');
      await until(() => r.buffer.stats().buffered === 3, 'third reading');
      expect(r.metrics.get('serial_reopens_total', { port: 'ttyMOCK0', reason: 'closed' })).toBe(1);
      expect(r.metrics.get('serial_reopens_total', { port: 'ttyMOCK0', reason: 'error' })).toBe(1);
      // The half line that was on the wire when the port failed is kept as a dead letter, not guessed at.
      expect((await listDeadLetters(r.buffer)).map((d) => d.entry.message)).toEqual([expect.stringMatching(/cut off when the port closed/)]);
    } finally {
      await r.source.stop(AbortSignal.timeout(2_000));
    }
  });

  it('a port missing at start is retried until it appears; a silent port is reopened by the watchdog', async () => {
    MockBinding.reset();
    const r = await rig({ framing: 'kv', silenceTimeoutMs: 40 });
    await r.source.start();
    try {
      expect(r.source.isOpen).toBe(false);
      await until(() => r.metrics.get('serial_open_failures_total') >= 2, 'failed opens');
      MockBinding.createPort('/dev/ttyMOCK0', { echo: false, record: false });
      await until(() => r.source.isOpen, 'open once the port exists');
      await until(() => r.metrics.get('serial_reopens_total', { port: 'ttyMOCK0', reason: 'silence' }) >= 1, 'silence reopen');
      await until(() => r.source.isOpen, 'open again');
      r.emit('deviceId=a seq=1 t=1\n');
      await until(() => r.buffer.stats().buffered === 1, 'reading after the watchdog reopen');
    } finally {
      await r.source.stop(AbortSignal.timeout(2_000));
    }
  });
});
