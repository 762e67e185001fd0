import { describe, expect, it } from 'vitest';
import { applyEnvOverrides, ConfigError, siteBrokerPasswordVariable, validateConfig } from '../../src/config/load.js';

const base = { name: 'building-a', url: 'mqtt://10.0.0.5:1883', clientId: 'gw-01', subscriptions: [{ topic: 'devices/#' }] };

function problems(siteBrokers: unknown[]): string[] {
  try {
    validateConfig({ siteBrokers }, 'test');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('siteBrokers config', () => {
  it('defaults to none, and fills the defaults of an entry', () => {
    expect(validateConfig({}, 'test').siteBrokers).toEqual([]);
    const [b] = validateConfig({ siteBrokers: [base] }, 'test').siteBrokers;
    expect(b).toEqual({
      ...base,
      subscriptions: [{ topic: 'devices/#', qos: 1 }],
      protocolVersion: 4,
      sessionExpirySeconds: 604_800,
      topicTemplate: 'devices/{deviceId}/#',
      maxPayloadBytes: 262_144,
      maxInFlight: 1_000,
      connectTimeoutMs: 10_000,
      keepaliveSeconds: 30,
      reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    });
  });

  it('accepts an MQTT 5 shared subscription and TLS files with mqtts', () => {
    const [b] = validateConfig(
      { siteBrokers: [{ ...base, url: 'mqtts://broker:8883', protocolVersion: 5, subscriptions: [{ topic: '$share/tidegate/devices/+/t', qos: 2 }], tls: { caFile: '/etc/ca.pem' } }] },
      'test',
    ).siteBrokers;
    expect(b!.tls).toEqual({ caFile: '/etc/ca.pem', rejectUnauthorized: true });
  });

  it('reports every problem with its path', () => {
    expect(problems([{ ...base, url: 'http://broker' }])).toEqual(['siteBrokers[0].url: must start with mqtt:// or mqtts:// followed by a host']);
    expect(problems([{ ...base, url: 'mqtt://user:secret@broker:1883' }])).toEqual([
      'siteBrokers[0].url: must not carry credentials: set username and password (or its environment override) instead',
    ]);
    expect(problems([{ ...base, subscriptions: [{ topic: 'devices/#/x' }, { topic: 'a/b+/c' }] }])).toEqual([
      'siteBrokers[0].subscriptions[0].topic: topic filter "devices/#/x": "#" must be a whole level and the last one',
      'siteBrokers[0].subscriptions[1].topic: topic filter "a/b+/c": "+" must be a whole level',
    ]);
    expect(problems([{ ...base, protocolVersion: 5, subscriptions: [{ topic: '$share//devices/#' }] }])).toEqual([
      'siteBrokers[0].subscriptions[0].topic: topic filter "$share//devices/#": the share group of $share/<group>/<filter> must be a non-empty name without "+" or "#"',
    ]);
    expect(problems([{ ...base, subscriptions: [{ topic: '$share/g/devices/#' }] }])).toEqual([
      'siteBrokers[0].protocolVersion: shared subscriptions ($share/...) are MQTT 5: set protocolVersion: 5',
    ]);
    expect(problems([{ ...base, tls: { rejectUnauthorized: false } }])).toEqual(['siteBrokers[0].tls: tls settings need an mqtts:// url']);
    expect(problems([{ ...base, url: 'mqtts://b', tls: { certFile: '/c.pem' } }])).toEqual(['siteBrokers[0].tls: certFile and keyFile go together']);
    expect(problems([{ ...base, reconnect: { minDelayMs: 5_000, maxDelayMs: 1_000 } }])).toEqual(['siteBrokers[0].reconnect: minDelayMs must not exceed maxDelayMs']);
    expect(problems([{ ...base, subscriptions: [] }])[0]).toMatch(/^siteBrokers\[0\]\.subscriptions: /);
    expect(problems([{ ...base, clean: true }])[0]).toMatch(/^siteBrokers\[0\]: unknown key "clean"/);
  });

  it('refuses a name used twice and a client id used twice on one broker', () => {
    expect(problems([base, { ...base, clientId: 'gw-02' }])).toEqual(['siteBrokers[1].name: name "building-a" is used twice']);
    expect(problems([base, { ...base, name: 'other' }])).toEqual(['siteBrokers[1].clientId: clientId "gw-01" is used twice for mqtt://10.0.0.5:1883']);
  });

  it('takes the password from TIDEGATE_SITE_BROKER_<NAME>_PASSWORD', () => {
    expect(siteBrokerPasswordVariable('building-a')).toBe('TIDEGATE_SITE_BROKER_BUILDING_A_PASSWORD');
    const doc: { siteBrokers: Array<typeof base & { password?: string }> } = { siteBrokers: [{ ...base, password: 'from-file' }, { ...base, name: 'b2', clientId: 'x' }] };
    const out = applyEnvOverrides(doc, { TIDEGATE_SITE_BROKER_BUILDING_A_PASSWORD: 'from-env' }) as typeof doc;
    expect(out.siteBrokers.map((b) => b.password)).toEqual(['from-env', undefined]);
    expect(doc.siteBrokers[0]!.password).toBe('from-file');
  });
});
