import net from 'node:net';
import { once } from 'node:events';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { metricValue, openFds, startHostileGateway, type HostileRig } from '../helpers/hostile-rig.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const SOCKETS = 500;
const CONNECT_TIMEOUT_MS = 1_000;

/** Polls `read` until `ok` holds or the time is up; returns the last value. */
async function pollUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('slowloris: connections that never complete a CONNECT', () => {
  let rig: HostileRig | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await rig?.close();
    await cleanup?.();
  });

  it(`closes ${SOCKETS} silent or half-CONNECT sockets after mqtt.limits.connectTimeoutMs; the gateway's descriptors return to baseline`, async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    rig = await startHostileGateway(temp.dir, `limits: { connectTimeoutMs: ${CONNECT_TIMEOUT_MS} }`);
    const baseline = await openFds(rig.pid);

    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'slow-device', keepalive: 30 });
    const closedAt: number[] = [];
    const opened = await Promise.all(
      Array.from({ length: SOCKETS }, async (_, i) => {
        // Timed from before the connect: the gateway's timer starts at its accept, which cannot come earlier.
        const at = Date.now();
        const socket = net.connect(rig!.mqttPort, '127.0.0.1');
        sockets.push(socket);
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        socket.once('close', () => closedAt.push(Date.now() - at));
        // Half of them say nothing; the other half send all of a CONNECT but its last byte.
        if (i % 2 === 1) socket.write(connect.subarray(0, connect.length - 1));
        return at;
      }),
    );
    expect(opened).toHaveLength(SOCKETS);
    // The gateway really holds them (so the return to baseline below means something). Not all of them at
    // once necessarily: on a loaded machine the first may time out before the last are accepted.
    const peak = await pollUntil(() => openFds(rig!.pid), (n) => n >= baseline + SOCKETS / 2, 5_000);
    expect(peak).toBeGreaterThanOrEqual(baseline + SOCKETS / 2);

    await pollUntil(async () => closedAt.length, (n) => n === SOCKETS, CONNECT_TIMEOUT_MS + 10_000);
    expect(closedAt).toHaveLength(SOCKETS);
    // None closed before the timeout, none long after it.
    expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS);
    expect(Math.max(...closedAt)).toBeLessThan(CONNECT_TIMEOUT_MS + 4_000);

    const after = await pollUntil(() => openFds(rig!.pid), (n) => n <= baseline, 5_000);
    expect(after).toBeLessThanOrEqual(baseline);
    expect(await metricValue(rig.statusUrl, 'tidegate_mqtt_refused_total{reason="connect_timeout"}')).toBe(SOCKETS);
    expect((await fetch(`${rig.statusUrl}/healthz`)).status).toBe(200);
  });
});
