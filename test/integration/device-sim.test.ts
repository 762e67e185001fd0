import { describe, it, expect } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runSimulation } from '../../device-sim/simulator.js';
import { startTestBroker } from '../helpers/device-sim-broker.js';

describe('device-sim against an in-process aedes broker (classic flags)', () => {
  it('delivers every reading exactly once per (device, seq) with QoS 1', async () => {
    const broker = await startTestBroker();
    try {
      // 200 readings/s per device: 100 in flight would take 0.5 s of ack delay, so pacing, not backpressure, decides.
      const summary = await runSimulation({ url: broker.url, devices: 20, totalRate: 4_000, count: 2_000, qos: 1, seed: 42, connectTimeoutMs: 5_000 });

      expect(summary).toMatchObject({ sent: 2_000, acked: 2_000, failed: 0, publishErrors: 0, stopReason: 'count', transport: 'mqtt', scenario: null });
      expect(summary.connectionCount).toBe(20);
      expect(summary.ackLatencyMs?.p50).toBeGreaterThan(0);
      expect(summary.ackLatencyMs!.max).toBeGreaterThanOrEqual(summary.ackLatencyMs!.p99);

      const perKey = new Map<string, number>();
      for (const r of broker.received) {
        const match = /^devices\/([^/]+)\/telemetry$/.exec(r.topic);
        expect(match, r.topic).not.toBeNull();
        const key = `${match![1]}#${String(r.body!.seq)}`;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
      }
      expect(broker.received).toHaveLength(2_000);
      expect(perKey.size).toBe(2_000);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);

      // Round-robin pacing: 20 devices share 2,000 readings evenly, seqs 1..100 each, one boot.
      expect(summary.devices).toHaveLength(20);
      for (const d of summary.devices) {
        expect(d).toMatchObject({ sent: 100, acked: 100, firstSeq: 1, lastSeq: 100 });
        expect(d.boots).toEqual([{ boot: expect.stringMatching(/^[0-9a-f]{8}$/), sent: 100, acked: [[1, 100]] }]);
        for (let seq = 1; seq <= 100; seq++) expect(perKey.get(`${d.deviceId}#${seq}`)).toBe(1);
      }

      // Payload shape per kind; `boot` identifies the device's boot for the audit.
      const sample = (prefix: string): Record<string, unknown> => broker.received.find((r) => r.topic.startsWith(`devices/${prefix}`))!.body!;
      expect(Object.keys(sample('th-')).sort()).toEqual(['boot', 'humidity', 'seq', 'temperature', 'ts']);
      expect(Object.keys(sample('co2-')).sort()).toEqual(['boot', 'co2', 'seq', 'ts']);
      expect(Object.keys(sample('occ-')).sort()).toEqual(['boot', 'occupancy', 'seq', 'ts']);
      expect(Math.abs((sample('th-').ts as number) - Date.now())).toBeLessThan(60_000);
      expect(sample('th-0001').boot).toBe(summary.devices[0]!.boots[0]!.boot);

      // Devices are spread round-robin over connections: one client id per device here.
      expect(new Set(broker.received.map((r) => r.clientId)).size).toBe(20);
    } finally {
      await broker.close();
    }
  });

  it('spreads devices over fewer connections and pads payloads (QoS 0)', async () => {
    const broker = await startTestBroker();
    try {
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
      // QoS 0 has no ack: wait for the broker to have seen all 300 readings.
      await broker.waitForCount(300);
      expect(summary).toMatchObject({ sent: 300, acked: 300, failed: 0, ackLatencyMs: null, connectionCount: 3 });
      expect(new Set(broker.received.map((r) => r.clientId)).size).toBe(3);
      expect(broker.received.every((r) => r.clientId.startsWith('lab1-sim-'))).toBe(true);
      expect(broker.received.every((r) => /^site\/lab1-(th|co2|occ)-\d{4}\/t$/.test(r.topic))).toBe(true);
      expect(broker.received.every((r) => typeof r.body!.pad === 'string')).toBe(true);
      expect(broker.received.every((r) => r.payload.length === 256)).toBe(true);
    } finally {
      await broker.close();
    }
  });

  it('stops on abort and still waits for the outstanding acks', async () => {
    const broker = await startTestBroker();
    try {
      const controller = new AbortController();
      void broker.waitForCount(200, 30_000).then(() => controller.abort());
      const summary = await runSimulation({ url: broker.url, devices: 10, rate: 100, durationSec: 60, qos: 1 }, controller.signal);
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

  it('simulates 10,000 devices from one process', async () => {
    const broker = await startTestBroker();
    try {
      const summary = await runSimulation({ url: broker.url, devices: 10_000, connections: 100, totalRate: 20_000, count: 20_000, qos: 1, seed: 1 });
      expect(summary).toMatchObject({ deviceCount: 10_000, sent: 20_000, acked: 20_000, failed: 0 });
      // Every device got its turn (under backpressure a parked device may send one fewer before the count is reached).
      expect(summary.devices.every((d) => d.acked >= 1 && d.acked === d.sent)).toBe(true);
      expect(summary.devices.reduce((n, d) => n + d.acked, 0)).toBe(20_000);
      expect(new Set(broker.received.map((r) => r.topic)).size).toBe(10_000);
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
      await expect(runSimulation({ url: `mqtt://127.0.0.1:${port}`, devices: 2, count: 10, connectTimeoutMs: 300 })).rejects.toThrow(
        /could not connect to mqtt:\/\/127\.0\.0\.1:\d+ within 0\.3 s: 0\/2 connections up/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

