import { describe, expect, it } from 'vitest';
import { compileTopicTemplate } from '../../src/normalize/topic-map.js';

describe('compileTopicTemplate: devices/{deviceId}/#', () => {
  const match = compileTopicTemplate('devices/{deviceId}/#');

  it.each([
    ['devices/x', 'x'],
    ['devices/x/telemetry', 'x'],
    ['devices/x/a/b', 'x'],
    // "#" also matches empty trailing levels, as an MQTT filter does.
    ['devices/x/', 'x'],
    ['devices/sensor-42.eu/telemetry', 'sensor-42.eu'],
  ])('matches %s and captures the device id', (topic, deviceId) => {
    expect(match(topic)).toBe(deviceId);
  });

  it.each([
    ['other/x', 'a different first level'],
    ['devices//t', 'an empty device id level'],
    ['devices/', 'an empty device id at the end'],
    ['devices', 'no device id level at all'],
    ['', 'an empty topic'],
    ['Devices/x', 'a first level that differs only in case'],
    ['/devices/x', 'a leading slash (an extra empty first level)'],
  ])('rejects %j (%s)', (topic) => {
    expect(match(topic)).toBeNull();
  });
});

describe('compileTopicTemplate: fixed levels without "#"', () => {
  it('site/+/{deviceId}/data matches exactly four levels', () => {
    const match = compileTopicTemplate('site/+/{deviceId}/data');
    expect(match('site/berlin/d1/data')).toBe('d1');
    expect(match('site/x/y/data')).toBe('y');
  });

  it.each([
    ['site/berlin/d1', 'a missing fixed tail'],
    ['site/berlin/d1/data/extra', 'an extra level after the fixed tail'],
    ['site/berlin/d1/status', 'a different fixed tail'],
    ['site//d1/data', 'an empty "+" level'],
    ['site/berlin//data', 'an empty device id'],
    ['plant/berlin/d1/data', 'a different first level'],
  ])('site/+/{deviceId}/data rejects %j (%s)', (topic) => {
    expect(compileTopicTemplate('site/+/{deviceId}/data')(topic)).toBeNull();
  });

  it('devices/{deviceId} accepts exactly two levels', () => {
    const match = compileTopicTemplate('devices/{deviceId}');
    expect(match('devices/x')).toBe('x');
    expect(match('devices/x/telemetry')).toBeNull();
    expect(match('devices')).toBeNull();
  });

  it('{deviceId} may be the first level', () => {
    const match = compileTopicTemplate('{deviceId}/telemetry');
    expect(match('d7/telemetry')).toBe('d7');
    expect(match('/telemetry')).toBeNull();
  });

  it('"+" with a trailing "#" needs the "+" level but nothing after it', () => {
    const match = compileTopicTemplate('{deviceId}/+/#');
    expect(match('d1/a')).toBe('d1');
    expect(match('d1/a/b/c')).toBe('d1');
    expect(match('d1')).toBeNull();
  });
});

describe('compileTopicTemplate: template errors', () => {
  it('refuses a template without a {deviceId} level', () => {
    expect(() => compileTopicTemplate('devices/+/#')).toThrow(/has no \{deviceId\} level/);
  });

  it('refuses {deviceId} that is only part of a level', () => {
    expect(() => compileTopicTemplate('devices/dev-{deviceId}/#')).toThrow(/has no \{deviceId\} level/);
  });

  it('refuses {deviceId} standing in the "#" position only', () => {
    expect(() => compileTopicTemplate('#')).toThrow(/has no \{deviceId\} level/);
  });

  it.each(['devices/#/{deviceId}', '#/{deviceId}', 'devices/{deviceId}/#/#'])('refuses "#" before the last level in %s', (template) => {
    expect(() => compileTopicTemplate(template)).toThrow(/"#" is only allowed as the last level/);
  });
});

describe('remembered topics', () => {
  it('answers a topic seen before the same way, matched or not, and long topics too', () => {
    const match = compileTopicTemplate('devices/{deviceId}/#');
    const long = `devices/${'d'.repeat(300)}/t`;
    const topics = ['devices/a/t', 'other/a/t', 'devices/b', 'devices/a/t', 'other/a/t', long, long, 'devices//t', 'devices//t'];
    expect(topics.map(match)).toEqual(['a', null, 'b', 'a', null, 'd'.repeat(300), 'd'.repeat(300), null, null]);
  });

  it('keeps answering correctly past the bound of remembered topics', () => {
    const match = compileTopicTemplate('site/+/{deviceId}');
    for (let i = 0; i < 10_000; i++) expect(match(`site/b/${i}`)).toBe(String(i));
    expect(match('site/b/0')).toBe('0');
    expect(match('site/b/0/x')).toBeNull();
  });
});
