import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CLIENTS = 20;
const PER_CLIENT = 500;
const TOTAL = CLIENTS * PER_CLIENT;

describe('end to end: MQTT QoS 1 → LevelDB → Kinesis (local emulator)', () => {
  let gateway: Gateway | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await cleanup?.();
  });

  it(`delivers ${TOTAL} QoS 1 readings from ${CLIENTS} clients to the stream, each exactly once`, async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const started = await startTestGateway(temp.dir);
    gateway = started.gateway;

    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => mqtt.connectAsync(started.mqttUrl, { clientId: `e2e-${i}`, reconnectPeriod: 0 })),
    );
    // Each client keeps up to 50 publishes in flight: realistic pipelining, bounded memory.
    await Promise.all(
      clients.map(async (client, c) => {
        const deviceId = `dev-${String(c).padStart(2, '0')}`;
        for (let base = 1; base <= PER_CLIENT; base += 50) {
          const sends: Promise<unknown>[] = [];
          for (let seq = base; seq < base + 50 && seq <= PER_CLIENT; seq++) {
            sends.push(client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ seq, ts: Date.now(), temperature: 20 + (seq % 10) / 10 }), { qos: 1 }));
          }
          await Promise.all(sends);
        }
      }),
    );
    await Promise.all(clients.map((c) => c.endAsync()));

    const kinesis = emulatorClient(gateway.kinesisEndpoint!);
    try {
      const records = await waitForStream(kinesis, 'tidegate-telemetry', (r) => r.length >= TOTAL, 60_000);
      expect(records).toHaveLength(TOTAL);
      const ids = new Set(records.map((r) => r.id));
      expect(ids.size).toBe(TOTAL);
      const bySeq = new Set(records.map((r) => `${r.deviceId}#${r.seq}`));
      expect(bySeq.size).toBe(TOTAL);
      for (let c = 0; c < CLIENTS; c++) {
        for (const seq of [1, PER_CLIENT]) expect(bySeq.has(`dev-${String(c).padStart(2, '0')}#${seq}`)).toBe(true);
      }
      // Partition key = device id: one device's readings all land on one shard.
      const shardsPerDevice = new Map<string, Set<string>>();
      for (const r of records) (shardsPerDevice.get(r.deviceId) ?? shardsPerDevice.set(r.deviceId, new Set()).get(r.deviceId)!).add(r.shardId);
      for (const shards of shardsPerDevice.values()) expect(shards.size).toBe(1);
      const sample = records[0]!;
      expect(sample.id).toMatch(/^test-gw-\d+$/);
      expect(typeof sample.receivedAt).toBe('number');
      expect(sample.values).toHaveProperty('temperature');
    } finally {
      kinesis.destroy();
    }
    // Delivered readings leave the buffer.
    await expect.poll(() => gateway!.bufferStats().buffered, { timeout: 10_000 }).toBe(0);
    expect(gateway.metrics.get('readings_delivered_total')).toBe(TOTAL);
  });
});
