import net from 'node:net';
import { once } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { metricValue, rssBytes, startHostileGateway, type HostileRig } from '../helpers/hostile-rig.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const ATTACKERS = 14;
const ROUNDS = 3;
const WINDOW_MS = 1_500;
const WAVE_EVERY_MS = 250;
// Remaining length 268,435,455: the protocol maximum (256 MB), in the 4-byte encoding [MQTT-2.2.3].
const MAX_LENGTH = Buffer.from([0xff, 0xff, 0xff, 0x7f]);
const HEADERS = [
  Buffer.concat([Buffer.from([0x10]), MAX_LENGTH]), // CONNECT
  Buffer.concat([Buffer.from([0x32]), MAX_LENGTH, Buffer.from([0x00, 0x03]), Buffer.from('a/b')]), // PUBLISH QoS 1
];
const JUNK = Buffer.alloc(64 * 1024, 0x41);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Honest devices: QoS 1 publishes at a steady pace, one in flight each, until `stop()`; each PUBACK latency
 * (ms) is filed under the phase in which its publish started.
 */
type Phase = 'warmup' | 'baseline' | 'attack';

function honestLoad(clients: MqttClient[], phase: () => Phase) {
  const latencies = { warmup: [] as number[], baseline: [] as number[], attack: [] as number[] };
  let running = true;
  const loops = clients.map(async (client, c) => {
    for (let seq = 0; running && seq < 100_000; seq++) {
      const during = phase();
      const t0 = performance.now();
      await client.publishAsync(`devices/honest-${c}/t`, JSON.stringify({ seq, v: seq }), { qos: 1 });
      latencies[during].push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20)); // a busy site, not a saturated one
    }
  });
  return {
    latencies,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * One attacking socket: sends a fixed header declaring 256 MB, then keeps writing until the gateway closes
 * it; returns how long that took (ms; Infinity when it was not closed within 5 s).
 */
async function attackOnce(port: number, header: Buffer): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  // Not events.once: it would reject on the EPIPE/ECONNRESET that writing into a closed socket raises.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let open = true;
  void closed.then(() => (open = false));
  const sentAt = performance.now();
  socket.write(header);
  const pump = (): void => {
    while (open && !socket.destroyed && socket.write(JUNK));
  };
  socket.on('drain', pump);
  pump();
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
  socket.destroy();
  return outcome === 'closed' ? performance.now() - sentAt : Number.POSITIVE_INFINITY;
}

/** Waves of 14 attacking sockets at once, a wave every WAVE_EVERY_MS, until `until`. */
async function attackWaves(port: number, until: number, closeTimes: number[]): Promise<void> {
  for (let wave = 0; Date.now() < until && wave < 100; wave++) {
    const next = Date.now() + WAVE_EVERY_MS;
    closeTimes.push(...(await Promise.all(Array.from({ length: ATTACKERS }, (_, i) => attackOnce(port, HEADERS[i % HEADERS.length]!)))));
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
}

describe('oversize packets: 14 sockets each declaring 256 MB', () => {
  let rig: HostileRig | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    for (const c of clients) c.end(true);
    await rig?.close();
    await cleanup?.();
  });

  it('closes each at once, keeps the gateway small, and honest devices barely notice', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await startHostileGateway(temp.dir);
    const port = rig.mqttPort;
    for (let c = 0; c < 4; c++) clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `honest-${c}`, reconnectPeriod: 0 }));

    // Baseline and attack windows alternate, so load from elsewhere on the machine falls on both alike.
    // A first window warms the gateway up (V8 sizes its heap in the first seconds, attack or not).
    let phase: Phase = 'warmup';
    const honest = honestLoad(clients, () => phase);
    const rss: Record<Phase, number> = { warmup: 0, baseline: 0, attack: 0 };
    const sampler = setInterval(() => {
      const during = phase;
      void rssBytes(rig!.pid).then((r) => (rss[during] = Math.max(rss[during], r)), () => undefined);
    }, 25);
    const closeTimes: number[] = [];
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    for (let round = 0; round < ROUNDS; round++) {
      phase = 'baseline';
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      phase = 'attack';
      await attackWaves(port, Date.now() + WINDOW_MS, closeTimes);
    }
    phase = 'baseline';
    clearInterval(sampler);
    await honest.stop();
    const baseline = honest.latencies.baseline;
    const underAttack = honest.latencies.attack;
    const rssBefore = rss.baseline;
    const rssPeak = rss.attack;

    const attacks = closeTimes.length;
    const p99 = { baseline: percentile(baseline, 99), attack: percentile(underAttack, 99) };
    const growthMiB = (rssPeak - rssBefore) / 1024 / 1024;
    console.info(
      `oversize attack: ${attacks} attacking connections; slowest close ${Math.max(...closeTimes).toFixed(1)} ms; ` +
        `RSS ${(rssBefore / 1024 / 1024).toFixed(1)} → peak ${(rssPeak / 1024 / 1024).toFixed(1)} MiB (+${growthMiB.toFixed(1)}); ` +
        `honest PUBACK p99 ${p99.baseline.toFixed(1)} ms baseline (${baseline.length}), ${p99.attack.toFixed(1)} ms under attack (${underAttack.length})`,
    );

    expect(attacks).toBeGreaterThanOrEqual(ROUNDS * ATTACKERS);
    expect(closeTimes.every((t) => t <= 1_000)).toBe(true);
    expect(growthMiB).toBeLessThanOrEqual(20);
    // Honest devices are not stalled: their p99 stays within 3x of the baseline or half a second above it. The
    // margin is wide on purpose (a test asserts no stall, not speed; on a loaded 2-core machine a 50 ms margin
    // failed with no stall at all); bench/ is where latency is measured.
    expect(p99.attack).toBeLessThanOrEqual(Math.max(3 * p99.baseline, p99.baseline + 500));
    // Every refusal was counted by its reason (before a CONNECT: not a device's data, so no dead letter).
    const refused =
      (await metricValue(rig.statusUrl, 'tidegate_mqtt_refused_total{reason="packet_too_large"}')) +
      (await metricValue(rig.statusUrl, 'tidegate_mqtt_refused_total{reason="payload_too_large"}'));
    expect(refused).toBe(attacks);
    expect(await metricValue(rig.statusUrl, 'tidegate_ledger_dead_lettered_total{reason="packet_too_large"}')).toBe(0);
    expect((await fetch(`${rig.statusUrl}/healthz`)).status).toBe(200);
  });
});
