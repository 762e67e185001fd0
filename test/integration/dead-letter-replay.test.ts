import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { bufferRequest } from '../../src/cli/buffer-access.js';
import { controlRequest } from '../../src/control/client.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import { isTidegateError } from '../../src/core/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { conservationGap } from '../../src/buffer/conservation.js';
import type { ReplayResult } from '../../src/buffer/dead-letters.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const STREAM = 'tidegate-telemetry';

describe('dead-letter replay', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.reverse()) await close();
    closers.length = 0;
  });

  it('goes through the rules of the running gateway: an unknown device, added to the registry, arrives enriched, and the ledger balances', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const registry = path.join(temp.dir, 'devices.csv');
    await writeFile(registry, 'deviceId,site,room\nroom-1,hq,1.01\n');
    const rules = [
      {
        name: 'rooms',
        match: { topics: ['devices/+/telemetry'] },
        stages: [
          { type: 'enrich', registry, unknown: 'dead_letter', reloadCheckMs: 100 },
          { type: 'compute', fields: { temperature_f: 'temperature * 9 / 5 + 32' } },
        ],
      },
    ];
    const dataDir = path.join(temp.dir, 'data');
    const { gateway, mqttUrl } = await startTestGateway(dataDir, { rules, pipeline: { tickMs: 100 } });
    closers.push(() => gateway.stop(AbortSignal.timeout(10_000)));
    const replay = async (): Promise<ReplayResult> => (await controlRequest(controlSocketPath(dataDir), { op: 'dead-letters.replay' })) as ReplayResult;

    const device = await mqtt.connectAsync(mqttUrl, { clientId: 'replay-device', reconnectPeriod: 0 });
    await device.publishAsync('devices/room-1/telemetry', JSON.stringify({ seq: 1, temperature: 21 }), { qos: 1 });
    for (let seq = 1; seq <= 3; seq++) await device.publishAsync('devices/room-9/telemetry', JSON.stringify({ seq, temperature: 20 + seq }), { qos: 1 });
    await device.endAsync();
    const reason = 'rule:rooms:enrich#0:unknown_device';
    expect(gateway.bufferStats().deadLettered).toEqual({ [reason]: 3 });

    // Replayed before the registry knows the device: the rule dead-letters them again, nothing is lost or counted twice.
    const early = await replay();
    expect(early).toMatchObject({ replayed: 3, stillInvalid: [], withoutPayload: 0, outcome: { stored: 0, filtered: 0, consumed: 0, deadLetteredAgain: 3, dropped: 0 } });
    expect((await gateway.readDeadLetters(10)).length).toBe(3);
    expect(gateway.bufferStats()).toMatchObject({ received: 4, deadLettered: { [reason]: 3 } });
    expect(conservationGap(gateway.bufferStats())).toBe(0);

    await writeFile(registry, 'deviceId,site,room\nroom-1,hq,1.01\nroom-9,annex,2.07\n');
    await expect.poll(() => gateway.metrics.get('enrich_registry_reloads_total'), { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(1);

    const fixed = await replay();
    expect(fixed).toMatchObject({ replayed: 3, outcome: { stored: 3, filtered: 0, consumed: 0, deadLetteredAgain: 0, dropped: 0 } });
    expect(await gateway.readDeadLetters(10)).toEqual([]);
    const stats = gateway.bufferStats();
    // Received once each, however often replayed; they left the dead letters in the commit that stored them.
    expect(stats.received).toBe(4);
    expect(stats.deadLettered[reason] ?? 0).toBe(0);
    expect(conservationGap(stats)).toBe(0);

    const records = (await waitForStream(emulatorClient(gateway.kinesisEndpoint!), STREAM, (r) => r.length >= 4, 30_000)) as unknown as Array<Record<string, any>>;
    const replayed = records.filter((r) => r.deviceId === 'room-9').sort((a, b) => a.seq - b.seq);
    expect(replayed.map((r) => r.seq)).toEqual([1, 2, 3]);
    for (const r of replayed) {
      expect(r.tags).toMatchObject({ site: 'annex', room: '2.07' });
      expect(r.values.temperature_f).toBeCloseTo((20 + r.seq) * 1.8 + 32, 9);
    }
    await expect.poll(() => gateway.bufferStats().delivered, { timeout: 10_000, interval: 50 }).toBe(4);
    expect(conservationGap(gateway.bufferStats())).toBe(0);
  });

  it('with the gateway stopped: replays straight into the buffer without rules, and refuses when the config has rules', async () => {
    const temp = await makeTempDir();
    closers.push(temp.cleanup);
    const dataDir = path.join(temp.dir, 'data');
    const { gateway, mqttUrl } = await startTestGateway(dataDir);
    const device = await mqtt.connectAsync(mqttUrl, { clientId: 'replay-offline', reconnectPeriod: 0 });
    await device.publishAsync('elsewhere/dev-7', JSON.stringify({ seq: 1, temperature: 20 }), { qos: 1 });
    await device.endAsync();
    expect(gateway.bufferStats().deadLettered).toEqual({ topic_mismatch: 1 });
    await gateway.stop(AbortSignal.timeout(10_000));

    // A config with rules: the replay must go through them, which only the running gateway can do.
    const withRules = path.join(temp.dir, 'with-rules.yaml');
    await writeFile(withRules, JSON.stringify({ dataDir, mqtt: { topicTemplate: 'elsewhere/{deviceId}' }, rules: [{ name: 'hot', stages: [{ type: 'filter', expr: 'temperature > 25.0' }] }] }));
    const refused = await bufferRequest(withRules, { op: 'dead-letters.replay' }).catch((e: unknown) => e);
    expect(isTidegateError(refused, 'ERR_USAGE')).toBe(true);
    expect((refused as Error).message).toContain('start the gateway (tidegate run) and replay again');

    // The topic template fixed, no rules: the dead letter is stored as a reading, in the same commit that deletes it.
    const fixed = path.join(temp.dir, 'fixed.yaml');
    await writeFile(fixed, JSON.stringify({ dataDir, mqtt: { topicTemplate: 'elsewhere/{deviceId}' } }));
    const result = (await bufferRequest(fixed, { op: 'dead-letters.replay' })) as ReplayResult;
    expect(result).toMatchObject({ replayed: 1, stillInvalid: [], withoutPayload: 0 });

    const { gateway: again } = await startTestGateway(dataDir);
    closers.push(() => again.stop(AbortSignal.timeout(10_000)));
    expect(await again.readDeadLetters(10)).toEqual([]);
    expect(again.bufferStats()).toMatchObject({ received: 1, deadLettered: { topic_mismatch: 0 } });
    expect(conservationGap(again.bufferStats())).toBe(0);
    const records = (await waitForStream(emulatorClient(again.kinesisEndpoint!), STREAM, (r) => r.length >= 1, 30_000)) as unknown as Array<Record<string, any>>;
    expect(records.map((r) => r.deviceId)).toEqual(['dev-7']);
  });
});
