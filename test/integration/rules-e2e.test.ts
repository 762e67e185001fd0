import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { conservationGap } from '../../src/buffer/conservation.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// A minute ago, aligned to the 10 s windows (a reading far in the future would be refused by the window).
const BASE = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;
const SECONDS = 35;
const room1 = (_s: number): number => 20; // a flat sensor
const room2 = (s: number): number => Math.round((18 + 0.3 * s) * 10) / 10; // a slow ramp

/** The deadband as the docs define it, over one device's series: what a batch run reports. */
function reportedByDeadband(values: number[], band: number): number[] {
  const out: number[] = [];
  let last: number | undefined;
  values.forEach((v, i) => {
    if (last === undefined || Math.abs(v - last) > band) {
      out.push(i);
      last = v;
    }
  });
  return out;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('rules end to end: MQTT → enrich, compute, window and deadband rules → LevelDB → Kinesis (emulator), read back', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('delivers per-room aggregates equal to a batch recomputation, deadbanded raw readings with their tags, dead-letters an unknown device, and the ledger balances', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const registry = path.join(temp.dir, 'devices.csv');
    await writeFile(registry, 'deviceId,site,floor,room\nroom-1,hq,1,1.01\nroom-2,hq,1,1.02\n');
    const rules = [
      {
        name: 'room-climate',
        match: { topics: ['devices/+/telemetry'] },
        stages: [
          { type: 'enrich', registry, unknown: 'dead_letter' },
          { type: 'compute', fields: { temperature_f: 'temperature * 9 / 5 + 32' } },
          { type: 'window', kind: 'tumbling', sizeMs: 10_000, allowedLatenessMs: 0, groupBy: ['room'], fields: ['temperature'], aggregates: ['mean', 'count', 'min', 'max'] },
        ],
        raw: 'keep',
        output: { topic: 'rules/{rule}' },
      },
      { name: 'report-by-exception', match: { devices: ['room-*'] }, stages: [{ type: 'deadband', fields: ['temperature'], absolute: 0.5 }] },
    ];
    const dataDir = path.join(temp.dir, 'data');
    let { gateway, mqttUrl } = await startTestGateway(dataDir, { rules });
    let running: Gateway | null = gateway;
    closers.push(async () => running?.stop(AbortSignal.timeout(10_000)));

    const device = await mqtt.connectAsync(mqttUrl, { clientId: 'rules-e2e', reconnectPeriod: 0 });
    for (let s = 0; s < SECONDS; s++) {
      for (const [id, f] of [['room-1', room1], ['room-2', room2]] as const) {
        await device.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ seq: s, ts: BASE + s * 1_000, temperature: f(s) }), { qos: 1 });
      }
    }
    await device.publishAsync('devices/ghost/telemetry', JSON.stringify({ seq: 0, ts: BASE, temperature: 1 }), { qos: 1 });
    await device.endAsync();

    const expectedRaw = new Map([
      ['room-1', reportedByDeadband(Array.from({ length: SECONDS }, (_, s) => room1(s)), 0.5)],
      ['room-2', reportedByDeadband(Array.from({ length: SECONDS }, (_, s) => room2(s)), 0.5)],
    ]);
    const rawCount = [...expectedRaw.values()].reduce((n, xs) => n + xs.length, 0);
    // Windows [0,10), [10,20), [20,30) of both rooms have closed (a reading at 30 s or later moved the watermark).
    const aggregateCount = 3 * 2;

    const kinesis = emulatorClient(gateway.kinesisEndpoint!);
    const records = (await waitForStream(kinesis, 'tidegate-telemetry', (r) => r.length >= rawCount + aggregateCount, 30_000)) as unknown as Array<Record<string, any>>;

    const aggregates = records.filter((r) => r.kind === 'aggregate');
    const readings = records.filter((r) => r.kind === 'reading');
    expect(readings).toHaveLength(rawCount);
    expect(aggregates).toHaveLength(aggregateCount);

    for (const [room, series, f] of [['1.01', 'room-1', room1], ['1.02', 'room-2', room2]] as const) {
      for (let w = 0; w < 3; w++) {
        const agg = aggregates.find((a) => a.result.key.room === room && a.result.window.start === BASE + w * 10_000);
        expect(agg, `aggregate of ${room} window ${w}`).toBeDefined();
        const inWindow = Array.from({ length: 10 }, (_, i) => f(w * 10 + i));
        expect(agg!.values.temperature_count).toBe(10);
        expect(agg!.values.temperature_mean).toBeCloseTo(mean(inWindow), 9);
        expect(agg!.values.temperature_min).toBe(Math.min(...inWindow));
        expect(agg!.values.temperature_max).toBe(Math.max(...inWindow));
        expect(agg!.topic).toBe('rules/room-climate');
        expect(agg!.result.rule).toBe('room-climate');
      }
      // Raw readings: exactly the ones the deadband reports, enriched and with the computed field.
      const got = readings.filter((r) => r.deviceId === series).map((r) => r.seq).sort((a: number, b: number) => a - b);
      expect(got).toEqual(expectedRaw.get(series));
      for (const r of readings.filter((x) => x.deviceId === series)) {
        expect(r.tags).toMatchObject({ site: 'hq', floor: '1', room });
        expect(r.values.temperature_f).toBeCloseTo(f(r.seq) * 1.8 + 32, 9);
      }
    }

    const stats = gateway.bufferStats();
    expect(stats.received).toBe(SECONDS * 2 + 1);
    expect(stats.filtered).toBe(SECONDS * 2 - rawCount);
    expect(stats.deadLettered).toEqual({ 'rule:room-climate:enrich#0:unknown_device': 1 });
    expect(stats.produced).toBe(aggregateCount);
    expect(conservationGap(stats)).toBe(0);
    const metrics = gateway.metrics;
    expect(metrics.get('rule_readings_total', { rule: 'room-climate', outcome: 'matched' })).toBe(SECONDS * 2 + 1);
    expect(metrics.get('rule_readings_total', { rule: 'report-by-exception', outcome: 'filtered' })).toBe(SECONDS * 2 - rawCount);

    // Restarted on the same buffer, the deadband remembers what it last reported: the flat sensor is not
    // reported again. (The reading opens a new window: the stop emitted the one of 30-40 s.)
    await gateway.stop(AbortSignal.timeout(10_000));
    running = null;
    ({ gateway, mqttUrl } = await startTestGateway(dataDir, { rules }));
    running = gateway;
    const again = await mqtt.connectAsync(mqttUrl, { clientId: 'rules-e2e', reconnectPeriod: 0 });
    const filteredBefore = gateway.bufferStats().filtered;
    await again.publishAsync('devices/room-1/telemetry', JSON.stringify({ seq: 40, ts: BASE + 40_000, temperature: room1(40) }), { qos: 1 });
    await again.endAsync();

    expect(gateway.bufferStats().filtered).toBe(filteredBefore + 1);
    expect(conservationGap(gateway.bufferStats())).toBe(0);
  });
});
