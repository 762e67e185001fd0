import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReadlineParser } from '@serialport/parser-readline';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../device-sim/scenario/load.js';
import { runSimulation } from '../../device-sim/simulator.js';
import { startTestBroker } from '../helpers/device-sim-broker.js';
import { startMqtt5Endpoint } from '../helpers/device-sim-mqtt5.js';
import { startPtyPair } from '../helpers/device-sim-pty.js';
import { caCert, clientCert, clientKey, serverCert, serverKey } from '../helpers/device-sim-tls.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'device-sim-transport-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('MQTT transport options against aedes', () => {
  it('QoS 2: every reading completes (PUBCOMP) and arrives once', async () => {
    const broker = await startTestBroker();
    try {
      const s = await runSimulation({ url: broker.url, devices: 5, totalRate: 2_000, count: 300, qos: 2 });
      expect(s).toMatchObject({ sent: 300, acked: 300, failed: 0, qos: 2 });
      expect(broker.received).toHaveLength(300);
      expect(broker.received.every((r) => r.qos === 2)).toBe(true);
    } finally {
      await broker.close();
    }
  });

  it('username/password: accepted when right, refused at once with a clear error when wrong', async () => {
    const broker = await startTestBroker({ authenticate: (u, p) => u === 'sim' && p === 's3cret' });
    try {
      const ok = await runSimulation({ url: broker.url, devices: 2, count: 20, totalRate: 1_000, username: 'sim', password: 's3cret' });
      expect(ok.acked).toBe(20);
      expect(broker.connects.every((c) => c.username === 'sim')).toBe(true);
      const started = Date.now();
      await expect(runSimulation({ url: broker.url, devices: 2, count: 20, username: 'sim', password: 'nope', connectTimeoutMs: 20_000 })).rejects.toThrow(
        /refused the connection: .*Check --username\/--password/,
      );
      expect(Date.now() - started).toBeLessThan(10_000); // a refusal does not wait for the connect timeout
    } finally {
      await broker.close();
    }
  });

  it('TLS with a CA file and a client certificate (mutual TLS)', async () => {
    const broker = await startTestBroker({ tls: { key: serverKey, cert: serverCert, ca: caCert, requestCert: true, rejectUnauthorized: true } });
    await writeFile(path.join(dir, 'ca.pem'), caCert);
    await writeFile(path.join(dir, 'client.pem'), clientCert);
    await writeFile(path.join(dir, 'client.key'), clientKey);
    try {
      expect(broker.url).toMatch(/^mqtts:/);
      const s = await runSimulation({
        url: broker.url,
        devices: 3,
        count: 30,
        totalRate: 1_000,
        tls: { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'client.pem'), key: path.join(dir, 'client.key') },
      });
      expect(s).toMatchObject({ acked: 30, failed: 0 });
      expect(broker.received).toHaveLength(30);
      // Without the CA the broker's certificate cannot be verified.
      await expect(runSimulation({ url: broker.url, devices: 1, count: 1, connectTimeoutMs: 500 })).rejects.toThrow(/could not connect .*last error: .*certificate/);
    } finally {
      await broker.close();
    }
  });

  it('persistent sessions use stable client ids and clean=false, and survive a disconnect storm', async () => {
    const broker = await startTestBroker();
    try {
      const scenario = parseScenario({
        run: { duration: '1200ms', seed: 5 },
        transport: { mqtt: { url: broker.url, qos: 1, clean: false, connections: 4, reconnectPeriod: '100ms' } },
        fleets: [{ id: 'th-{i:02}', count: 8, profile: 'th', interval: '20ms' }],
        faults: { disconnects: [{ at: '400ms', fraction: 1 }] },
      });
      const s = await runSimulation({ scenario });
      expect(s.faults).toMatchObject({ storms: 1, droppedConnections: 4 });
      expect(s.reconnects).toBeGreaterThanOrEqual(4);
      expect(s).toMatchObject({ failed: 0, publishErrors: 0 });
      expect(s.acked).toBe(s.sent);
      const ids = broker.connects.map((c) => c.clientId);
      expect(new Set(ids)).toEqual(new Set(['sim-0', 'sim-1', 'sim-2', 'sim-3']));
      expect(ids.length).toBeGreaterThanOrEqual(8); // each connected twice
      expect(broker.connects.every((c) => !c.clean && c.protocolVersion === 4)).toBe(true);
      // Every acknowledged reading reached the broker (resends after the storm may add copies).
      const seen = new Set(broker.received.map((r) => `${r.topic}#${String(r.body!.seq)}`));
      for (const d of s.devices) for (let seq = 1; seq <= d.sent; seq++) expect(seen.has(`devices/${d.deviceId}/telemetry#${seq}`)).toBe(true);
    } finally {
      await broker.close();
    }
  });
});

describe('MQTT 5', () => {
  it('connects with protocol level 5 and a session expiry for persistent sessions', async () => {
    const endpoint = await startMqtt5Endpoint();
    try {
      const s = await runSimulation({ url: endpoint.url, devices: 2, count: 40, totalRate: 2_000, qos: 1, mqttVersion: '5', clean: false, sessionExpirySec: 600 });
      expect(s).toMatchObject({ acked: 40, failed: 0 });
      expect(endpoint.connects).toEqual([
        { clientId: 'sim-0', clean: false, protocolVersion: 5, sessionExpiryInterval: 600 },
        { clientId: 'sim-1', clean: false, protocolVersion: 5, sessionExpiryInterval: 600 },
      ]);
      expect(endpoint.publishes).toHaveLength(40);
      const q2 = await runSimulation({ url: endpoint.url, devices: 1, count: 10, totalRate: 1_000, qos: 2, mqttVersion: '5' });
      expect(q2).toMatchObject({ acked: 10, failed: 0 });
      expect(endpoint.connects.at(-1)).toMatchObject({ clean: true, protocolVersion: 5, sessionExpiryInterval: undefined });
    } finally {
      await endpoint.close();
    }
  });
});

/** The far end of the pty: collects lines, and waits (bounded, event-driven) until they satisfy a condition. */
class LineReader {
  readonly lines: string[] = [];
  private readonly port: SerialPort;
  private check: (() => void) | undefined;

  private constructor(ttyPath: string) {
    this.port = new SerialPort({ path: ttyPath, baudRate: 115_200, autoOpen: false });
  }

  static async open(ttyPath: string): Promise<LineReader> {
    const r = new LineReader(ttyPath);
    await new Promise<void>((resolve, reject) => r.port.open((err) => (err ? reject(err) : resolve())));
    r.port.pipe(new ReadlineParser({ delimiter: '\n', encoding: 'latin1' })).on('data', (line: string) => {
      r.lines.push(line.replace(/\r$/, ''));
      r.check?.();
    });
    return r;
  }

  waitFor(done: (lines: string[]) => boolean, timeoutMs = 15_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met within ${timeoutMs} ms (${this.lines.length} lines)`)), timeoutMs);
      this.check = () => {
        if (!done(this.lines)) return;
        clearTimeout(timer);
        this.check = undefined;
        resolve();
      };
      this.check();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}

describe('serial transport over a socat pty pair', () => {
  for (const framing of ['jsonl', 'csv', 'kv'] as const) {
    it(`writes one ${framing} line per reading that the other end can parse`, async () => {
      const pty = await startPtyPair(dir);
      const reader = await LineReader.open(pty.b);
      try {
        const s = await runSimulation({ serial: { path: pty.a, framing }, devices: 6, count: 60, totalRate: 3_000, seed: 3 });
        await reader.waitFor((ls) => ls.filter((l) => !l.startsWith('#')).length >= 60);
        expect(s).toMatchObject({ transport: 'serial', url: `serial://${pty.a}`, sent: 60, acked: 60, failed: 0, ackLatencyMs: null });
        const rows = reader.lines.filter((l) => !l.startsWith('#'));
        expect(rows).toHaveLength(60);
        const parsed = rows.map((line): Record<string, string> => {
          if (framing === 'jsonl') return Object.fromEntries(Object.entries(JSON.parse(line) as object).map(([k, v]) => [k, String(v)]));
          if (framing === 'kv') return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
          // csv: the columns are those of the last header line before this row.
          const header = reader.lines.slice(0, reader.lines.indexOf(line)).filter((l) => l.startsWith('#')).at(-1)!;
          const cols = header.slice(1).split(',');
          return Object.fromEntries(line.split(',').map((v, i) => [cols[i]!, v]));
        });
        expect(parsed.map((p) => p.deviceId)).toEqual(expect.arrayContaining(['th-0001', 'co2-0002', 'occ-0003']));
        for (const d of s.devices) {
          const mine = parsed.filter((p) => p.deviceId === d.deviceId);
          expect(mine.map((p) => Number(p.seq))).toEqual([...Array(10).keys()].map((i) => i + 1));
          expect(mine.every((p) => p.boot === d.boots[0]!.boot && Number(p.ts) > 1.7e12)).toBe(true);
        }
        expect(parsed.find((p) => p.deviceId === 'th-0001')!.temperature).toMatch(/^\d+(\.\d)?$/);
      } finally {
        await reader.close();
        await pty.close();
      }
    });
  }

  it('dirty serial: malformed lines, noise and oversize lines between intact readings', async () => {
    const pty = await startPtyPair(dir);
    const scenario = parseScenario({
      run: { count: 400, seed: 8 },
      transport: { serial: { framing: 'kv', lineEnding: 'crlf' } },
      fleets: [{ id: 'm-{i:02}', count: 10, profile: 'energy', rate: 200 }],
      faults: { malformed: { ratio: 0.1 }, noise: { ratio: 0.05, bytes: 16 }, oversize: { ratio: 0.02, bytes: 600 }, duplicates: { ratio: 0.05 } },
    });
    const good = (l: string): boolean => /^deviceId=m-\d\d seq=\d+ ts=\d+ boot=[0-9a-f]{8} power_w=\d+ energy_kwh=[\d.]+$/.test(l);
    const reader = await LineReader.open(pty.b);
    try {
      const s = await runSimulation({ scenario, serial: { path: pty.a } });
      expect(s).toMatchObject({ sent: 400, acked: 400, failed: 0 });
      const f = s.faults;
      expect(f.malformedSent).toBeGreaterThan(10);
      expect(f.noiseSent).toBeGreaterThan(3);
      expect(f.duplicatesSent).toBeGreaterThan(3);
      // Every reading arrives intact, and so does every deliberate copy, between the junk.
      await reader.waitFor((ls) => ls.filter(good).length >= 400 + f.duplicatesSent);
      const lines = reader.lines;
      const goodLines = lines.filter(good);
      expect(goodLines).toHaveLength(400 + f.duplicatesSent);
      expect(new Set(goodLines.map((l) => l.split(' ').slice(0, 2).join(' '))).size).toBe(400);
      expect(lines.filter((l) => l.length >= 590)).toHaveLength(f.oversizeSent);
      expect(lines.length - goodLines.length).toBeGreaterThanOrEqual(f.malformedSent + f.noiseSent);
    } finally {
      await reader.close();
      await pty.close();
    }
  });
});
