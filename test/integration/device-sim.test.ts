import { describe, it, expect } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { ConnectError, runSimulation } from '../../device-sim/simulator.js';

interface Received {
  topic: string;
  clientId: string;
  body: Record<string, unknown>;
}

/**
 * A real aedes broker on an ephemeral loopback port. Publishes are recorded in
 * authorizePublish, which aedes runs before it writes the PUBACK, so once the
 * simulator has seen every ack the broker has recorded every publish.
 */
async function startBroker(): Promise<{
  url: string;
  received: Received[];
  onReceive: (fn: (count: number) => void) => void;
  close: () => Promise<void>;
}> {
  const received: Received[] = [];
  let listener: ((count: number) => void) | undefined;
  const broker = await Aedes.createBroker({
    authorizePublish: (client, packet, cb) => {
      received.push({
        topic: packet.topic,
        clientId: client?.id ?? '',
        body: JSON.parse(packet.payload.toString()) as Record<string, unknown>,
      });
      listener?.(received.length);
      cb(null);
    },
  });
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    received,
    onReceive: (fn) => {
      listener = fn;
    },
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('device-sim against an in-process aedes broker', () => {
  it('delivers every reading exactly once per (device, seq) with QoS 1', async () => {
    const broker = await startBroker();
    try {
      const summary = await runSimulation({
        url: broker.url,
        devices: 20,
        totalRate: 20_000,
        count: 2_000,
        qos: 1,
        seed: 42,
        connectTimeoutMs: 5_000,
      });

      expect(summary).toMatchObject({ sent: 2_000, acked: 2_000, failed: 0, publishErrors: 0, stopReason: 'count' });
      expect(summary.connectionCount).toBe(20);
      expect(summary.ackLatencyMs?.p50).toBeGreaterThan(0);
      expect(summary.ackLatencyMs!.max).toBeGreaterThanOrEqual(summary.ackLatencyMs!.p99);

      const perKey = new Map<string, number>();
      for (const r of broker.received) {
        const match = /^devices\/([^/]+)\/telemetry$/.exec(r.topic);
        expect(match, r.topic).not.toBeNull();
        const key = `${match![1]}#${String(r.body.seq)}`;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
      }
      expect(broker.received).toHaveLength(2_000);
      expect(perKey.size).toBe(2_000);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);

      // Round-robin pacing: 20 devices share 2,000 readings evenly, seqs 1..100 each.
      expect(summary.devices).toHaveLength(20);
      for (const d of summary.devices) {
        expect(d).toMatchObject({ sent: 100, acked: 100, firstSeq: 1, lastSeq: 100 });
        for (let seq = 1; seq <= 100; seq++) expect(perKey.get(`${d.deviceId}#${seq}`)).toBe(1);
      }

      // Payload shape per kind.
      const sample = (prefix: string): Record<string, unknown> =>
        broker.received.find((r) => r.topic.startsWith(`devices/${prefix}`))!.body;
      expect(Object.keys(sample('th-')).sort()).toEqual(['humidity', 'seq', 'temperature', 'ts']);
      expect(Object.keys(sample('co2-')).sort()).toEqual(['co2', 'seq', 'ts']);
      expect(Object.keys(sample('occ-')).sort()).toEqual(['occupancy', 'seq', 'ts']);
      expect(Math.abs((sample('th-').ts as number) - Date.now())).toBeLessThan(60_000);

      // Devices are spread round-robin over connections: one client id per device here.
      expect(new Set(broker.received.map((r) => r.clientId)).size).toBe(20);
    } finally {
      await broker.close();
    }
  });

  it('spreads devices over fewer connections and pads payloads (QoS 0)', async () => {
    const broker = await startBroker();
    try {
      // QoS 0 has no ack, so wait for the broker to have seen all 300 readings.
      const allReceived = new Promise<void>((resolve) => broker.onReceive((n) => n === 300 && resolve()));
      const summary = await runSimulation({
        url: broker.url,
        devices: 30,
        connections: 3,
        totalRate: 10_000,
        count: 300,
        qos: 0,
        payloadBytes: 256,
        devicePrefix: 'lab1-',
        topicTemplate: 'site/{deviceId}/t',
      });
      await allReceived;
      expect(summary).toMatchObject({ sent: 300, acked: 300, failed: 0, ackLatencyMs: null, connectionCount: 3 });
      expect(new Set(broker.received.map((r) => r.clientId)).size).toBe(3);
      expect(broker.received.every((r) => r.clientId.startsWith('lab1-sim-'))).toBe(true);
      expect(broker.received.every((r) => /^site\/lab1-(th|co2|occ)-\d{4}\/t$/.test(r.topic))).toBe(true);
      expect(broker.received.every((r) => typeof r.body.pad === 'string')).toBe(true);
      expect(JSON.stringify(broker.received[0]!.body)).toHaveLength(256);
    } finally {
      await broker.close();
    }
  });

  it('stops on abort and still waits for the outstanding acks', async () => {
    const broker = await startBroker();
    try {
      const controller = new AbortController();
      broker.onReceive((n) => {
        if (n === 200) controller.abort();
      });
      const summary = await runSimulation(
        { url: broker.url, devices: 10, rate: 100, durationSec: 60, qos: 1 },
        controller.signal,
      );
      expect(summary.stopReason).toBe('aborted');
      expect(summary.sent).toBeGreaterThanOrEqual(200);
      expect(summary.sent).toBeLessThan(6_000);
      expect(summary.acked).toBe(summary.sent);
      expect(summary.failed).toBe(0);
      expect(broker.received).toHaveLength(summary.sent);
      expect(summary.devices.reduce((a, d) => a + d.acked, 0)).toBe(summary.acked);
    } finally {
      await broker.close();
    }
  });

  it('gives up with ConnectError when the broker never answers', async () => {
    // Accepts TCP but never sends CONNACK: a hung broker, without port races.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const started = Date.now();
      await expect(
        runSimulation({ url: `mqtt://127.0.0.1:${port}`, devices: 2, count: 10, connectTimeoutMs: 300 }),
      ).rejects.toThrow(ConnectError);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
