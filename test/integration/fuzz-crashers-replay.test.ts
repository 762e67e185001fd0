import net from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const crashersDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/fuzz-crashers');

const connect = (protocolVersion: number, fields: Record<string, unknown> = {}): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, clientId: 'replay', keepalive: 30, ...fields } as mqttPacket.Packet);
const publish = (topic: string, protocolVersion = 4, extra: Record<string, unknown> = {}): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('{"v":1}'), qos: 1, messageId: 1, retain: false, dup: false, ...extra } as mqttPacket.Packet, { protocolVersion });

/** Inputs that once were, or could be, trouble: always replayed, so the test has work with an empty corpus. */
const SEEDS: Record<string, Buffer> = {
  'mqtt 5 connect with a publish carrying properties': Buffer.concat([connect(5), publish('devices/a/t', 5, { properties: { topicAlias: 3, userProperties: { a: 'b' } } })]),
  'connect with keepalive 0, then a publish': Buffer.concat([connect(4, { keepalive: 0 }), publish('devices/a/t')]),
  'half a connect': connect(4).subarray(0, 7),
  'a second connect': Buffer.concat([connect(4), connect(4)]),
  'a publish with NUL in its topic': Buffer.concat([connect(4), publish('devices/a\u0000/t')]),
  'a 300-byte topic': Buffer.concat([connect(4), publish(`devices/a/${'x'.repeat(300)}`)]),
  'a subscribe with 101 levels': Buffer.concat([connect(4), mqttPacket.generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: Array(101).fill('a').join('/'), qos: 0 }] } as mqttPacket.Packet)]),
  'a remaining length of five bytes': Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]),
  'pubrel for an unknown id': Buffer.concat([connect(4), mqttPacket.generate({ cmd: 'pubrel', messageId: 9 } as mqttPacket.Packet)]),
  'a publish before any connect': publish('devices/a/t'),
  'random bytes': Buffer.from('8f1a00ff7e2b30000d0a', 'hex'),
};

/** Writes the bytes on a fresh connection, half-closes, and waits (bounded) for the gateway to close it. */
async function replay(port: number, bytes: Buffer): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  // Read (and drop) what the gateway answers: an unread socket never sees the gateway's close.
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await Promise.race([new Promise((r) => socket.once('connect', r)), closed]);
  socket.end(bytes);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 3_000).unref())]);
  socket.destroy();
}

describe('fuzz crashers: every saved input is replayed against a gateway', () => {
  let gateway: Gateway;
  let cleanup: () => Promise<void>;
  let port: number;

  beforeAll(async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    gateway = (await startTestGateway(temp.dir)).gateway;
    port = gateway.mqttAddresses[0]!.port;
  });

  afterAll(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    await cleanup?.();
  });

  /** The gateway still serves: /healthz answers 200 and a device gets its PUBACK. */
  async function stillServing(): Promise<void> {
    expect((await fetch(`http://127.0.0.1:${gateway.statusAddress!.port}/healthz`)).status).toBe(200);
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'replay-check', reconnectPeriod: 0 });
    await device.publishAsync('devices/replay-check/t', JSON.stringify({ seq: 1, v: 1 }), { qos: 1 });
    await device.endAsync();
  }

  it.each(Object.entries(SEEDS))('seed: %s', async (_name, bytes) => {
    await replay(port, bytes);
    await stillServing();
  });

  it('saved crashers (none is fine: the corpus only grows when fuzzing finds one)', async () => {
    const files = (await readdir(crashersDir)).filter((f) => f.endsWith('.bin')).sort();
    for (const file of files) await replay(port, await readFile(path.join(crashersDir, file)));
    await stillServing();
    expect(files.every((f) => /^[\w.-]+\.bin$/.test(f))).toBe(true);
  });
});
