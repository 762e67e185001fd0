import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { OptionsError } from '../../../device-sim/options.js';
import { resolveOptions } from '../../../device-sim/plan.js';
import { expandFleets } from '../../../device-sim/scenario/fleet.js';
import { loadScenarioFile, parseScenario } from '../../../device-sim/scenario/load.js';
import type { FleetDoc } from '../../../device-sim/scenario/schema.js';

const scenarios = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../device-sim/scenarios');
const office = (): ReturnType<typeof loadScenarioFile> => loadScenarioFile(path.join(scenarios, 'office-floor.yaml'));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof OptionsError) return err.problems;
    throw err;
  }
  throw new Error('expected an OptionsError');
}

describe('fleet expansion', () => {
  it('formats ids from the pattern and staggers devices over one interval', () => {
    const devices = expandFleets([{ id: 'th-{i:03}', count: 50, start: 1, profile: 'th', interval: '10s' } as FleetDoc], {}, {}, []);
    expect(devices.map((d) => d.deviceId).slice(0, 3)).toEqual(['th-001', 'th-002', 'th-003']);
    expect(devices[49]!.deviceId).toBe('th-050');
    expect(devices.every((d) => d.intervalMs === 10_000)).toBe(true);
    expect(devices.map((d) => d.phase * d.intervalMs).slice(0, 3)).toEqual([0, 200, 400]);
  });

  it('cycles a profile list and fills {profile}; the classic fleet is th, co2, occ', () => {
    const o = resolveOptions({ devices: 4, count: 1 });
    expect(o.fleet.map((d) => d.deviceId)).toEqual(['th-0001', 'co2-0002', 'occ-0003', 'th-0004']);
    expect(o.fleet.map((d) => d.fieldSet.emitted)).toEqual([['temperature', 'humidity'], ['co2'], ['occupancy'], ['temperature', 'humidity']]);
    expect(resolveOptions({ devices: 12_000, count: 1 }).fleet[11_999]!.deviceId).toBe('occ-12000');
    expect(resolveOptions({ devices: 3, count: 1, devicePrefix: 'lab1-' }).fleet[2]!.deviceId).toBe('lab1-occ-0003');
  });
});

describe('resolveOptions with a scenario', () => {
  it('takes devices, rates, transport and bounds from the scenario', () => {
    const o = resolveOptions({ scenario: office() });
    expect(o.devices).toBe(106);
    expect(o.connections).toBe(106); // per-device
    expect(o.transport).toMatchObject({ kind: 'mqtt', url: 'mqtt://127.0.0.1:1883', qos: 1, clientIds: expect.arrayContaining(['th-001', 'door-12']) });
    expect(o.durationMs).toBe(300_000);
    expect(o.seed).toBe(42);
    expect(o.totalRate).toBeCloseTo(50 / 10 + 20 / 30 + 20 / 15 + 4 / 5 + 12 / 2);
    expect(o.scenarioName).toBe('office-floor');
  });

  it('lets flags override the scenario where they overlap', () => {
    const o = resolveOptions({ scenario: office(), url: 'mqtt://127.0.0.1:9', qos: 0, durationSec: 5, seed: 7, connections: 4, totalRate: 1000 });
    expect(o.transport).toMatchObject({ url: 'mqtt://127.0.0.1:9', qos: 0, connections: 4 });
    expect(o.durationMs).toBe(5_000);
    expect(o.seed).toBe(7);
    expect(o.totalRate).toBe(1000);
    // --total-rate scales every fleet alike: the doors still send 15x as often as the climate sensors.
    const byId = new Map(o.fleet.map((d) => [d.deviceId, d.intervalMs]));
    expect(byId.get('th-001')! / byId.get('door-01')!).toBeCloseTo(5);
    expect(o.fleet.reduce((s, d) => s + 1000 / d.intervalMs, 0)).toBeCloseTo(1000);
    expect(resolveOptions({ scenario: office(), rate: 2 }).fleet.every((d) => d.intervalMs === 500)).toBe(true);
  });

  it('--devices resizes a single-fleet scenario and is refused for several fleets', () => {
    const single = parseScenario({ run: { count: 10 }, fleets: [{ id: 'th-{i:05}', count: 10, profile: 'th' }] });
    expect(resolveOptions({ scenario: single, devices: 250 }).devices).toBe(250);
    expect(problemsOf(() => resolveOptions({ scenario: office(), devices: 10 }))).toEqual([
      expect.stringMatching(/office-floor\.yaml: fleets: --devices sets the size of a single fleet, but this scenario has 5 fleets/),
    ]);
  });

  it('uses a serial port when the scenario or --serial says so, and needs a path', () => {
    const dirty = loadScenarioFile(path.join(scenarios, 'dirty-serial.yaml'));
    expect(problemsOf(() => resolveOptions({ scenario: dirty }))).toEqual([expect.stringMatching(/^no serial port: pass --serial PATH/)]);
    const o = resolveOptions({ scenario: dirty, serial: { path: '/tmp/ttyA' } });
    expect(o.transport).toEqual({ kind: 'serial', path: '/tmp/ttyA', baudRate: 115_200, framing: 'kv', lineEnding: '\r\n', connectTimeoutMs: 10_000 });
    expect(o.url).toBe('serial:///tmp/ttyA');
    expect(o.qos).toBe(0);
    expect(problemsOf(() => resolveOptions({ scenario: dirty, url: 'mqtt://127.0.0.1:1' }))).toEqual(['faults.noise: line noise applies to serial ports only']);
  });

  it('sets MQTT 5 session expiry for persistent sessions and stable client ids', () => {
    const o = resolveOptions({ devices: 3, count: 1, mqttVersion: '5', clean: false });
    expect(o.transport).toMatchObject({ protocolVersion: 5, clean: false, sessionExpirySec: 3600, clientIds: ['sim-0', 'sim-1', 'sim-2'] });
    const clean = resolveOptions({ devices: 2, count: 1 });
    expect(clean.transport).toMatchObject({ protocolVersion: 4, clean: true });
    expect((clean.transport as { clientIds: string[] }).clientIds[0]).toMatch(/^sim-0-[0-9a-f]{8}$/);
    expect(resolveOptions({ devices: 2, count: 1, connections: 'per-device' }).transport).toMatchObject({ clientIds: ['th-0001', 'co2-0002'] });
  });

  it('reads TLS files and insists on an encrypted URL', () => {
    expect(problemsOf(() => resolveOptions({ count: 1, url: 'mqtt://127.0.0.1:1', tls: { ca: '/nonexistent/ca.pem' } }))).toEqual([
      expect.stringMatching(/^--ca: cannot read \/nonexistent\/ca\.pem: ENOENT/),
      'TLS files are set but the URL mqtt://127.0.0.1:1 is not encrypted; use mqtts:// (or wss://)',
    ]);
  });
});
