import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile, parseScenario } from '../../device-sim/scenario/load.js';
import { runSimulation, type SimulationSummary } from '../../device-sim/simulator.js';
import { startTestBroker, type ReceivedPublish } from '../helpers/device-sim-broker.js';

const scenarios = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../device-sim/scenarios');

const isReading = (r: ReceivedPublish): boolean => typeof r.body?.seq === 'number' && r.body.seq >= 1 && typeof r.body.boot === 'string';
const keyOf = (r: ReceivedPublish): string => `${r.topic.split('/')[1]}|${String(r.body!.boot)}|${String(r.body!.seq)}`;

/** Every (device, boot, seq) the ledger says was acknowledged. */
function ackedKeys(s: SimulationSummary): string[] {
  return s.devices.flatMap((d) => d.boots.flatMap((b) => b.acked.flatMap(([a, z]) => Array.from({ length: z - a + 1 }, (_, i) => `${d.deviceId}|${b.boot}|${a + i}`))));
}

describe('scenarios against aedes', () => {
  it('runs fleets with profiles, jitter, bursts and every per-reading fault; the broker sees exactly the ledger', async () => {
    const broker = await startTestBroker();
    try {
      const scenario = parseScenario({
        run: { duration: '1500ms', seed: 21 },
        transport: { mqtt: { url: broker.url, qos: 1, connections: 'per-device' } },
        fleets: [
          { name: 'climate', id: 'th-{i:03}', count: 10, profile: 'th', interval: '40ms', jitter: '20%' },
          { name: 'meters', id: 'meter-{i}', count: 4, profile: 'energy', interval: '50ms' },
          { name: 'doors', id: 'door-{i}', count: 4, profile: 'door', rate: 10 },
        ],
        faults: {
          bursts: [{ at: '500ms', duration: '500ms', factor: 4, fleets: ['climate'] }],
          duplicates: { ratio: 0.05 },
          malformed: { ratio: 0.05, fleets: ['meters'] },
          oversize: { ratio: 0.02, bytes: 3000, fleets: ['meters'] },
          reboots: { ratio: 0.02, fleets: ['climate'] },
          clockSkew: { max: '20s', fleets: ['doors'] },
        },
      });
      const s = await runSimulation({ scenario });
      expect(s).toMatchObject({ failed: 0, deviceCount: 18, connectionCount: 18, scenario: 'scenario', seed: 21 });
      const f = s.faults;
      expect(f.duplicatesSent).toBeGreaterThan(0);
      expect(f.malformedSent).toBeGreaterThan(0);
      expect(f.oversizeSent).toBeGreaterThan(0);
      expect(f.reboots).toBeGreaterThan(0);

      // The climate burst: 10 devices × 25/s, ×4 for 0.5 s of 1.5 s => about 10 × 25 × 3 = 750 readings.
      const climate = s.devices.filter((d) => d.deviceId.startsWith('th-')).reduce((n, d) => n + d.sent, 0);
      expect(climate).toBeGreaterThan(600);
      expect(climate).toBeLessThan(850);
      expect(s.devices.filter((d) => d.deviceId.startsWith('door-')).reduce((n, d) => n + d.sent, 0)).toBeLessThanOrEqual(4 * 15 + 4);

      // Oversize junk goes out at QoS 0 (no ack to wait for): wait until the broker has seen everything.
      await broker.waitForCount(s.acked + f.duplicatesSent + f.malformedSent + f.oversizeSent);
      expect(broker.received.filter((r) => r.payload.length === 3000).every((r) => r.qos === 0)).toBe(true);
      const readings = broker.received.filter(isReading);
      const junk = broker.received.filter((r) => !isReading(r));
      // Junk is exactly what was injected, all from the meters: malformed plus oversize, none a reading.
      expect(junk).toHaveLength(f.malformedSent + f.oversizeSent);
      expect(junk.every((r) => r.topic.startsWith('devices/meter-'))).toBe(true);
      expect(junk.filter((r) => r.payload.length === 3000)).toHaveLength(f.oversizeSent);
      // Readings: each acknowledged key once, plus one copy of each deliberately duplicated one.
      const counts = new Map<string, number>();
      for (const r of readings) counts.set(keyOf(r), (counts.get(keyOf(r)) ?? 0) + 1);
      expect([...counts.keys()].sort()).toEqual(ackedKeys(s).sort());
      const twice = s.devices.flatMap((d) => d.boots.flatMap((b) => (b.duplicated ?? []).flatMap(([a, z]) => Array.from({ length: z - a + 1 }, (_, i) => `${d.deviceId}|${b.boot}|${a + i}`))));
      expect(twice).toHaveLength(f.duplicatesSent);
      for (const [k, n] of counts) expect(n, k).toBe(twice.includes(k) ? 2 : 1);

      // Reboots: a device with several boots restarts at seq 1 under each new boot id.
      const rebooted = s.devices.find((d) => d.boots.length > 1)!;
      expect(rebooted.boots.map((b) => b.acked[0]?.[0] ?? 1).every((first) => first === 1)).toBe(true);
      expect(new Set(rebooted.boots.map((b) => b.boot)).size).toBe(rebooted.boots.length);
      expect(s.devices.reduce((n, d) => n + d.boots.length - 1, 0)).toBe(f.reboots);
      // Clock skew: door clocks are off by up to 20 s, the meters' are not.
      const offset = (prefix: string): number => Math.max(...readings.filter((r) => r.topic.includes(prefix)).map((r) => Math.abs((r.body!.ts as number) - Date.now())));
      expect(offset('/door-')).toBeGreaterThan(1_000);
      expect(offset('/meter-')).toBeLessThan(10_000);
    } finally {
      await broker.close();
    }
  });

  it('is deterministic for a seed: same ledger, same faults, same values', async () => {
    const broker = await startTestBroker();
    try {
      const doc = {
        run: { count: 600, seed: 77 },
        transport: { mqtt: { url: broker.url, qos: 1, connections: 3 } },
        // Time-independent generators only, so values depend on the seed and seq alone.
        profiles: { walk: { fields: { level: { type: 'randomWalk', start: 50, step: 2, round: 3 }, noise: { type: 'noise', sd: 1, round: 3 } } } },
        fleets: [{ id: 'w-{i:02}', count: 6, profile: 'walk', rate: 1000, jitter: 0.3 }],
        faults: { duplicates: { ratio: 0.05 }, reboots: { ratio: 0.01 } },
      };
      const run = async (): Promise<{ s: SimulationSummary; values: Map<string, unknown> }> => {
        const from = broker.received.length;
        const s = await runSimulation({ scenario: parseScenario(doc) });
        const values = new Map(broker.received.slice(from).filter(isReading).map((r) => [keyOf(r), [r.body!.level, r.body!.noise]]));
        return { s, values };
      };
      const a = await run();
      const b = await run();
      expect(a.s.devices).toEqual(b.s.devices);
      expect(a.s.faults).toEqual(b.s.faults);
      expect([...a.values.entries()].sort()).toEqual([...b.values.entries()].sort());
      const c = await runSimulation({ scenario: parseScenario(doc), seed: 78 });
      expect(c.devices.map((d) => d.boots[0]!.boot)).not.toEqual(a.s.devices.map((d) => d.boots[0]!.boot));
    } finally {
      await broker.close();
    }
  });

  it('injects anomalies on the same readings for a seed', async () => {
    const broker = await startTestBroker();
    try {
      // 1,200 readings/s over 3 connections: a stalled moment cannot fill an in-flight window, so the readings
      // go out in due order and a count-bounded run ends on the same reading every time.
      const doc = {
        run: { count: 600, seed: 78 },
        transport: { mqtt: { url: broker.url, qos: 1, connections: 3 } },
        profiles: { walk: { fields: { level: { type: 'randomWalk', start: 50, step: 2, round: 3 }, noise: { type: 'noise', sd: 1, round: 3 } } } },
        fleets: [{ id: 'w-{i:02}', count: 6, profile: 'walk', rate: 200, jitter: 0.3 }],
        anomalies: [
          { kind: 'step', devices: ['w-01'], field: 'level', at: '100ms', duration: '150ms', magnitude: 100 },
          { kind: 'spike', field: 'noise', within: ['0ms', '400ms'], count: 2, magnitude: [20, 40] },
          { kind: 'dropout', devices: ['w-03'], at: '200ms', duration: '100ms' },
          { kind: 'stuck', devices: ['w-04'], field: 'level', at: '150ms', duration: '150ms' },
          { kind: 'noise', devices: ['w-05'], field: 'level', at: '100ms', duration: '200ms', factor: 16 },
        ],
      };
      const run = async (): Promise<{ s: SimulationSummary; values: Map<string, unknown> }> => {
        const from = broker.received.length;
        const s = await runSimulation({ scenario: parseScenario(doc) });
        const values = new Map(broker.received.slice(from).filter(isReading).map((r) => [keyOf(r), [r.body!.level, r.body!.noise]]));
        return { s, values };
      };
      const a = await run();
      const b = await run();
      expect(a.s.anomalies).toEqual({ episodes: 16, byKind: { step: 1, spike: 12, dropout: 1, stuck: 1, noise: 1 }, truthFile: null });
      expect(b.s.anomalies).toEqual(a.s.anomalies);
      expect(a.s.devices).toEqual(b.s.devices);
      expect([...a.values.entries()].sort()).toEqual([...b.values.entries()].sort());
    } finally {
      await broker.close();
    }
  });

  it('runs a shipped scenario with CLI-style overrides (office floor, 600 ms at 2,000 readings/s)', async () => {
    const broker = await startTestBroker();
    try {
      const s = await runSimulation({ scenario: loadScenarioFile(path.join(scenarios, 'office-floor.yaml')), url: broker.url, durationSec: 0.6, totalRate: 2_000 });
      expect(s).toMatchObject({ scenario: 'office-floor', deviceCount: 106, connectionCount: 106, failed: 0, seed: 42 });
      expect(s.sent).toBeGreaterThan(900);
      expect(s.sent).toBeLessThanOrEqual(1_200 + 5); // + the first device of each fleet, due at 0
      const fields = new Set(broker.received.flatMap((r) => Object.keys(r.body!)));
      for (const f of ['temperature', 'humidity', 'battery_v', 'co2', 'occupancy', 'power_w', 'energy_kwh', 'open']) expect(fields).toContain(f);
      expect(fields).not.toContain('deviceId');
    } finally {
      await broker.close();
    }
  });
});
