import net from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { fuzzCases, fuzzConnect } from '../helpers/mqtt-fuzz.js';
import { startHostileGateway, type HostileRig } from '../helpers/hostile-rig.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// TIDEGATE_FUZZ_CASES / TIDEGATE_FUZZ_SEED run a longer or different campaign by hand.
const CASES = Number(process.env.TIDEGATE_FUZZ_CASES ?? 100_000);
const LANES = 50;
const CASES_PER_CONNECTION = 100;
const SEED = Number(process.env.TIDEGATE_FUZZ_SEED ?? 20261128);
const crashersDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/fuzz-crashers');

/**
 * Writes one connection's bytes: a CONNECT, then (3.1.1: after the CONNACK, so the cases reach the packet
 * handlers; 5: at once, as aedes refuses the level but its parser still reads them) the cases in one write.
 * Resolves when the broker has closed the connection or after a bounded wait.
 */
async function fuzzConnection(port: number, connect: Buffer, cases: Buffer, waitConnack: boolean): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  // Read (and drop) what the gateway answers: an unread socket never sees the gateway's close.
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const bounded = (ms: number, p: Promise<unknown>): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
  await bounded(3_000, new Promise((resolve) => socket.once('connect', resolve)));
  if (waitConnack) {
    socket.write(connect);
    await bounded(3_000, Promise.race([new Promise((resolve) => socket.once('data', resolve)), closed]));
    socket.write(cases);
  } else {
    socket.write(Buffer.concat([connect, cases]));
  }
  socket.end();
  await bounded(3_000, closed);
  socket.destroy();
}

describe('protocol fuzzing', () => {
  let rig: HostileRig | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await rig?.close();
    await cleanup?.();
  });

  it(`survives ${CASES} generated and mutated MQTT 3.1.1 / 5 inputs over ${LANES} connections at a time, /healthz answering throughout`, async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    // Durability `os`: fsyncing the dead letters of garbage would only slow the fuzzing, not widen it.
    rig = await startHostileGateway(temp.dir, '', 'durability: os');
    const { mqttPort, statusUrl, child } = rig;

    // Generated up front: generation is synchronous and would otherwise stall the health polls below.
    const generatedAt = performance.now();
    const perLane = CASES / LANES;
    const versionOf = (lane: number): 4 | 5 => (lane % 5 === 4 ? 5 : 4); // one lane in five speaks MQTT 5
    const laneCases = Array.from({ length: LANES }, (_, lane) => fuzzCases(versionOf(lane), perLane, SEED + lane));
    const generateSeconds = (performance.now() - generatedAt) / 1000;

    // Health is polled all along; every poll must be answered.
    let polling = true;
    const health = { answered: 0, failures: [] as string[] };
    const poller = (async () => {
      for (let i = 0; polling && i < 10_000; i++) {
        try {
          const res = await fetch(`${statusUrl}/healthz`, { signal: AbortSignal.timeout(3_000) });
          if (res.status === 200) health.answered += 1;
          else health.failures.push(`HTTP ${res.status}: ${await res.text()}`);
        } catch (err) {
          health.failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const started = performance.now();
    const inFlight = new Map<number, Buffer>();
    let sent = 0;
    const lanes = laneCases.map(async (cases, lane) => {
      const version = versionOf(lane);
      for (let offset = 0; offset < cases.length && child.proc.exitCode === null; offset += CASES_PER_CONNECTION) {
        const connect = fuzzConnect(`fz-${lane}-${offset}`, version);
        const batch = Buffer.concat(cases.slice(offset, offset + CASES_PER_CONNECTION));
        inFlight.set(lane, Buffer.concat([connect, batch]));
        await fuzzConnection(mqttPort, connect, batch, version === 4);
        sent += Math.min(CASES_PER_CONNECTION, cases.length - offset);
      }
    });
    await Promise.all(lanes);
    const seconds = (performance.now() - started) / 1000;
    polling = false;
    await poller;

    const crashed = child.proc.exitCode !== null || child.proc.signalCode !== null;
    if (crashed || health.failures.length > 0) {
      // Keep what was on the wire when it went wrong; the replay test runs these from now on.
      await mkdir(crashersDir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      for (const [lane, bytes] of inFlight) await writeFile(path.join(crashersDir, `${stamp}-seed${SEED}-lane${lane}.bin`), bytes);
    }
    expect(crashed, `gateway exited during fuzzing:\n${child.logs.slice(-20).join('\n')}`).toBe(false);
    expect(health.failures).toEqual([]);
    expect(health.answered).toBeGreaterThan(0);
    expect(sent).toBe(CASES);
    console.info(`fuzz: ${sent} cases generated in ${generateSeconds.toFixed(1)} s, sent in ${seconds.toFixed(1)} s over ${LANES} lanes (seed ${SEED}); /healthz answered ${health.answered} times`);

    // Still a working broker afterwards: a device connects and gets its PUBACK.
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'after-fuzz', reconnectPeriod: 0 });
    await device.publishAsync('devices/after-fuzz/t', JSON.stringify({ seq: 1, v: 1 }), { qos: 1 });
    await device.endAsync();
  });
});
