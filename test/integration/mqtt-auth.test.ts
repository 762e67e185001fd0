import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password-hash.js';
import { writeUsersFile } from '../../src/auth/users-file.js';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway, type ConfigDoc } from '../helpers/gateway-harness.js';
import { closesWithin, connectPacket, rawConnack, rawConnect } from '../helpers/raw-mqtt.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { childEnv } from '../helpers/child-env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `tidegate passwd ...` from source with the given stdin; returns status and output. */
function passwd(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'passwd', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

describe('embedded broker: authentication and ACL', () => {
  let gateway: Gateway | undefined;
  let temp: { dir: string; cleanup(): Promise<void> };
  let usersFile: string;
  let port: number;

  const start = async (mqttOverrides: ConfigDoc = {}): Promise<void> => {
    const started = await startTestGateway(temp.dir, { mqtt: { auth: { usersFile }, ...mqttOverrides } });
    gateway = started.gateway;
    port = gateway.mqttAddresses[0]!.port;
  };

  beforeEach(async () => {
    temp = await makeTempDir();
    usersFile = path.join(temp.dir, 'users');
    await writeUsersFile(usersFile, [
      { username: 'th-042', hash: await hashPassword(Buffer.from('pw-th-042!')) },
      { username: 'th-043', hash: await hashPassword(Buffer.from('pw-th-043!')) },
    ]);
  });

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    gateway = undefined;
    await temp.cleanup();
  });

  it('refuses bad CONNECTs with the right CONNACK code and counts each reason', async () => {
    await start();
    const code = async (fields: Record<string, unknown>): Promise<number> => {
      const { returnCode, conn } = await rawConnack(port, fields);
      // [MQTT-3.2.2-5]: a refusing CONNACK is followed by the close.
      if (returnCode !== 0) expect(await closesWithin(conn, 2_000)).toBe(true);
      conn.end();
      return returnCode;
    };
    expect(await code({ clientId: 'anon' })).toBe(5); // anonymous where authentication is required
    expect(await code({ clientId: 'c1', username: 'th-042', password: Buffer.from('wrong-password') })).toBe(4);
    expect(await code({ clientId: 'c1', username: 'nobody', password: Buffer.from('pw-th-042!') })).toBe(4);
    expect(await code({ clientId: 'c1', username: 'th-042' })).toBe(4); // no password
    for (const clientId of ['dev+1', 'dev#', 'dev/1', 'dev\u00001']) {
      expect(await code({ clientId, username: 'th-042', password: Buffer.from('pw-th-042!') })).toBe(2);
    }
    // An empty client id with cleanSession 0 [MQTT-3.1.3-8]: built by hand, as mqtt-packet will not write it.
    const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);
    const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 30]), str(''), str('th-042'), str('pw-th-042!')]);
    const noId = await rawConnect(port);
    noId.socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    expect(((await noId.next('connack')) as { returnCode?: number }).returnCode).toBe(2);
    noId.end();
    // The last will is checked by the same ACL: another device's topic is refused at CONNECT (§3.1.4).
    const will = { topic: 'devices/th-043/status', payload: Buffer.from('gone'), qos: 1, retain: false };
    expect(await code({ clientId: 'c1', username: 'th-042', password: Buffer.from('pw-th-042!'), will })).toBe(5);
    expect(await code({ clientId: 'c1', username: 'th-042', password: Buffer.from('pw-th-042!'), will: { ...will, topic: 'devices/th-042/status' } })).toBe(0);

    const m = gateway!.metrics;
    expect(m.get('mqtt_refused_total', { reason: 'not_authorized' })).toBe(1);
    expect(m.get('mqtt_refused_total', { reason: 'bad_credentials' })).toBe(3);
    expect(m.get('mqtt_refused_total', { reason: 'client_id_rejected' })).toBe(5);
    expect(m.get('mqtt_refused_total', { reason: 'will_denied' })).toBe(1);
    expect(m.get('mqtt_acl_denied_total', { action: 'will' })).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${gateway!.statusAddress!.port}/metrics`)).text();
    expect(metrics).toContain('tidegate_mqtt_refused_total{reason="bad_credentials"} 3');
  });

  it('answers an MQTT 5 CONNECT with 3.1.1 return code 1 (unacceptable protocol level) and closes', async () => {
    await start();
    const conn = await rawConnect(port);
    conn.send(connectPacket({ protocolVersion: 5, username: 'th-042', password: Buffer.from('pw-th-042!') }), 5);
    const connack = (await conn.next('connack')) as { returnCode?: number };
    expect(connack.returnCode).toBe(1);
    expect(await closesWithin(conn, 2_000)).toBe(true);
    expect(gateway!.metrics.get('mqtt_refused_total', { reason: 'unsupported_protocol' })).toBe(1);
  });

  it('a device publishes under its own prefix (its reading reaches the stream); outside it the connection closes and nothing is stored', async () => {
    await start();
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'th-042-main', username: 'th-042', password: 'pw-th-042!', reconnectPeriod: 0 });
    await device.publishAsync('devices/th-042/telemetry', JSON.stringify({ seq: 1, temperature: 21.5 }), { qos: 1 });
    const received = gateway!.bufferStats().received;

    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('devices/th-043/telemetry', JSON.stringify({ seq: 2, temperature: 99 }), { qos: 1 });
    await closed;
    expect(gateway!.metrics.get('mqtt_acl_denied_total', { action: 'publish' })).toBe(1);
    expect(gateway!.bufferStats().received).toBe(received);
    expect(gateway!.bufferStats().deadLettersStored).toBe(0);
    device.end(true);

    const kinesis = emulatorClient(gateway!.kinesisEndpoint!);
    const records = await waitForStream(kinesis, 'tidegate-telemetry', (r) => r.length >= 1, 15_000);
    expect(records.map((r) => [r.deviceId, r.seq])).toEqual([['th-042', 1]]);
  });

  it('grants subscriptions inside the device prefix only: `#` and `$SYS/#` get SUBACK 0x80, the connection stays', async () => {
    await start();
    const { returnCode, conn } = await rawConnack(port, { clientId: 'sub-1', username: 'th-042', password: Buffer.from('pw-th-042!') });
    expect(returnCode).toBe(0);
    conn.send({
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: [
        { topic: '#', qos: 1 },
        { topic: '$SYS/#', qos: 0 },
        { topic: 'devices/th-043/#', qos: 1 },
        { topic: 'devices/th-042/cmd/#', qos: 1 },
      ],
    });
    const suback = (await conn.next('suback')) as { granted: number[] };
    expect(suback.granted).toEqual([0x80, 0x80, 0x80, 1]);
    expect(conn.isClosed()).toBe(false);
    expect(gateway!.metrics.get('mqtt_acl_denied_total', { action: 'subscribe' })).toBe(3);
    conn.end();
  });

  it('anonymous clients only on a listener with allowAnonymous: true, with the rights mqtt.auth.anonymous gives', async () => {
    await start({
      listeners: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0, allowAnonymous: true }],
      auth: { usersFile, anonymous: { publish: ['lab/{clientId}/#'], subscribe: [] } },
    });
    const open = gateway!.mqttAddresses[1]!.port;
    expect((await rawConnack(port, { clientId: 'anon-1' })).returnCode).toBe(5);
    const { returnCode, conn } = await rawConnack(open, { clientId: 'anon-1' });
    expect(returnCode).toBe(0);
    conn.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/anon-1/#', qos: 0 }] });
    expect(((await conn.next('suback')) as { granted: number[] }).granted).toEqual([0x80]);
    conn.send({ cmd: 'publish', topic: 'lab/anon-1/x', payload: Buffer.from('{"v":1}'), qos: 1, messageId: 2 });
    await conn.next('puback');
    conn.send({ cmd: 'publish', topic: 'devices/th-042/x', payload: Buffer.from('{"v":1}'), qos: 1, messageId: 3 });
    expect(await closesWithin(conn, 2_000)).toBe(true);
    expect(conn.received.filter((p) => p.cmd === 'puback')).toHaveLength(1);
  });

  it('tidegate passwd add, list and remove round trip; the running broker follows the file', async () => {
    const file = path.join(temp.dir, 'cli-users');
    // Each run is a child process; the refusals run beside the first add.
    const [added, badName, short, missing] = await Promise.all([
      passwd(['add', 'th-100', '--file', file, '--password-stdin'], 'cli-secret-1\n'),
      passwd(['add', 'th/bad', '--file', path.join(temp.dir, 'other'), '--password-stdin'], 'cli-secret-3'),
      passwd(['add', 'th-102', '--file', path.join(temp.dir, 'other'), '--password-stdin'], 'short'),
      passwd(['list', '--file', path.join(temp.dir, 'missing')]),
    ]);
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain('added th-100');
    expect(badName).toMatchObject({ code: 2 });
    expect(badName.stderr).toContain('bad username "th/bad"');
    expect(short.stderr).toContain('shorter than 8');
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.stderr).toContain('does not exist');
    expect((await passwd(['add', 'th-101', '--file', file, '--password-stdin'], 'cli-secret-2')).code).toBe(0);

    usersFile = file;
    await start();
    expect((await rawConnack(port, { clientId: 'a', username: 'th-100', password: Buffer.from('cli-secret-1') })).returnCode).toBe(0);

    const removed = await passwd(['remove', 'th-100', '--file', file]);
    expect(removed).toMatchObject({ code: 0 });
    const [list, again] = await Promise.all([passwd(['list', '--file', file]), passwd(['remove', 'th-100', '--file', file])]);
    expect(list.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0])).toEqual(['th-101']);
    expect(list.stdout).toContain('scrypt ln=14 r=8 p=1');
    expect(again.stderr).toContain('has no user "th-100"');
    expect((await rawConnack(port, { clientId: 'b', username: 'th-100', password: Buffer.from('cli-secret-1') })).returnCode).toBe(4);
    expect((await rawConnack(port, { clientId: 'c', username: 'th-101', password: Buffer.from('cli-secret-2') })).returnCode).toBe(0);
  });
});
