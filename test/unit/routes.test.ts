import { describe, expect, it } from 'vitest';
import { routeProblems } from '../../src/config/route-policy.js';
import { validateConfig } from '../../src/config/load.js';
import type { StoredRecord } from '../../src/buffer/types.js';
import { compileRouteMatch, topicMatches } from '../../src/sinks/kinesis/routes.js';

function record(deviceId: string, topic: string, lane: 'alarm' | 'telemetry' = 'telemetry'): StoredRecord {
  const data = Buffer.from(JSON.stringify({ id: 'gw-1', deviceId, topic, values: { v: 1 } }));
  return { lane, seq: 1, partitionKey: deviceId, data, bytes: data.length };
}

describe('topic filters', () => {
  it.each([
    ['devices/+/alarm', 'devices/a/alarm', true],
    ['devices/+/alarm', 'devices/a/b/alarm', false],
    ['devices/#', 'devices', true],
    ['devices/#', 'devices/a/b', true],
    ['devices/a', 'devices/a/b', false],
    ['+/+', 'a/b', true],
    ['+', 'a/b', false],
  ])('%s on %s → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('route matches', () => {
  it('needs every condition to hold', () => {
    const match = compileRouteMatch({ deviceId: 'meter-*', topic: 'devices/+/energy' });
    expect(match(record('meter-7', 'devices/meter-7/energy'))).toBe(true);
    expect(match(record('meter-7', 'devices/meter-7/telemetry'))).toBe(false);
    expect(match(record('th-7', 'devices/th-7/energy'))).toBe(false);
  });

  it('matches the record kind (a record without one is a reading)', () => {
    const aggregates = compileRouteMatch({ kind: 'aggregate' });
    const readings = compileRouteMatch({ kind: 'reading' });
    const data = Buffer.from(JSON.stringify({ id: 'gw-1', deviceId: 'm1', topic: 't', kind: 'aggregate', values: { v: 1 } }));
    const aggregate: StoredRecord = { lane: 'telemetry', seq: 2, partitionKey: 'm1', data, bytes: data.length };
    expect(aggregates(aggregate)).toBe(true);
    expect(aggregates(record('m1', 't'))).toBe(false);
    expect(readings(record('m1', 't'))).toBe(true);
    expect(readings(aggregate)).toBe(false);
  });

  it('matches device globs whole, with regex characters taken literally', () => {
    const match = compileRouteMatch({ deviceId: 'a.b?' });
    expect(match(record('a.bc', 't'))).toBe(true);
    expect(match(record('axbc', 't'))).toBe(false);
    expect(match(record('a.bcd', 't'))).toBe(false);
  });

  it('matches lanes', () => {
    const match = compileRouteMatch({ lane: 'alarm' });
    expect(match(record('d', 't', 'alarm'))).toBe(true);
    expect(match(record('d', 't'))).toBe(false);
  });
});

describe('route config', () => {
  it('refuses a route naming both or neither destination, with its path', () => {
    expect(() => validateConfig({ routes: [{ match: {}, kinesis: 'a', firehose: 'b' }] }, 'test')).toThrow(/routes\[0\]: a route sends to exactly one of/);
    expect(() => validateConfig({ routes: [{ match: {} }] }, 'test')).toThrow(/exactly one of/);
  });

  it('refuses a Firehose route with the bundled emulator and no Firehose endpoint', () => {
    expect(() => validateConfig({ kinesis: { endpoint: 'local' }, routes: [{ match: { topic: 'x/#' }, firehose: 'archive' }] }, 'test')).toThrow(/routes\[0\]\.firehose.*no Firehose/s);
    const ok = validateConfig({ kinesis: { endpoint: 'local' }, firehose: { endpoint: 'http://127.0.0.1:1' }, routes: [{ firehose: 'archive' }] }, 'test');
    expect(routeProblems(ok)).toEqual([]);
  });
});
