import { describe, expect, it } from 'vitest';
import { ClientRights, defaultDeviceRule, expandRule, filterWithin, topicMatches } from '../../src/sources/mqtt-broker/acl.js';

const levels = (f: string) => f.split('/');

describe('topic access rules', () => {
  it('matches topics like MQTT filters, `#` including the parent level [MQTT-4.7.1-2]', () => {
    expect(topicMatches(levels('devices/th-042/#'), 'devices/th-042/telemetry')).toBe(true);
    expect(topicMatches(levels('devices/th-042/#'), 'devices/th-042')).toBe(true);
    expect(topicMatches(levels('devices/th-042/#'), 'devices/th-0421/telemetry')).toBe(false);
    expect(topicMatches(levels('devices/+/t'), 'devices/a/t')).toBe(true);
    expect(topicMatches(levels('devices/+/t'), 'devices/a/t/x')).toBe(false);
    expect(topicMatches(levels('a/b'), 'a/b')).toBe(true);
    expect(topicMatches(levels('a/b'), 'a')).toBe(false);
  });

  it('never lets a leading wildcard reach $ topics [MQTT-4.7.2-1]', () => {
    expect(topicMatches(levels('#'), '$SYS/broker/x')).toBe(false);
    expect(topicMatches(levels('+/broker/x'), '$SYS/broker/x')).toBe(false);
    expect(filterWithin(levels('#'), '$SYS/#')).toBe(false);
    expect(topicMatches(levels('$SYS/#'), '$SYS/broker/x')).toBe(true);
  });

  it('grants a subscription only when the filter lies inside the rule', () => {
    const rule = levels('devices/th-042/#');
    expect(filterWithin(rule, 'devices/th-042/#')).toBe(true);
    expect(filterWithin(rule, 'devices/th-042/+/x')).toBe(true);
    expect(filterWithin(rule, 'devices/th-042')).toBe(true);
    expect(filterWithin(rule, '#')).toBe(false);
    expect(filterWithin(rule, 'devices/#')).toBe(false);
    expect(filterWithin(rule, 'devices/+/telemetry')).toBe(false);
    expect(filterWithin(levels('devices/+/t'), 'devices/+/t')).toBe(true);
    expect(filterWithin(levels('devices/+/t'), 'devices/#')).toBe(false);
    expect(filterWithin(levels('a/b'), 'a/b/c')).toBe(false);
  });

  it('fills {username} and {clientId}; rules needing a username grant anonymous clients nothing', () => {
    expect(expandRule('devices/{username}/{clientId}/#', { username: 'th-042', clientId: 'c1' })).toEqual(['devices', 'th-042', 'c1', '#']);
    expect(expandRule('devices/{username}/#', { username: null, clientId: 'c1' })).toBeNull();
    const anonymous = new ClientRights({ publish: ['devices/{username}/#', 'cmd/{clientId}'], subscribe: [] }, { username: null, clientId: 'c1' });
    expect(anonymous.canPublish('devices/c1/t')).toBe(false);
    expect(anonymous.canPublish('cmd/c1')).toBe(true);
    expect(anonymous.canSubscribe('cmd/c1')).toBe(false);
  });

  it('derives the default device rule from the topic template', () => {
    expect(defaultDeviceRule('devices/{deviceId}/#')).toBe('devices/{username}/#');
    const rights = new ClientRights({ publish: [defaultDeviceRule('site/+/{deviceId}/#')], subscribe: [] }, { username: 'th-042', clientId: 'x' });
    expect(rights.canPublish('site/b1/th-042/t')).toBe(true);
    expect(rights.canPublish('site/b1/th-043/t')).toBe(false);
  });

  it('answers a repeated topic the same as the first time, allowed or not, after other topics in between', () => {
    const rights = new ClientRights({ publish: ['devices/{username}/#', 'cmd/{clientId}'], subscribe: [] }, { username: 'th-042', clientId: 'c1' });
    const asked = ['devices/th-042/t', 'devices/th-042/t', 'devices/th-043/t', 'devices/th-042/t', 'cmd/c1', 'cmd/c2', 'cmd/c2', 'devices/th-042/t', 'devices/th-043/t'];
    expect(asked.map((t) => rights.canPublish(t))).toEqual([true, true, false, true, true, false, false, true, false]);
  });
});
