import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/gateway.js';
import type { LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { crashRig, startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { testConfig } from '../helpers/gateway-harness.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

/** Every entry under `dir` (recursively) with its permission bits. */
async function modesUnder(dir: string): Promise<Array<{ name: string; mode: number; isDir: boolean }>> {
  const out: Array<{ name: string; mode: number; isDir: boolean }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out.push({ name: path.relative(dir, full), mode: await modeOf(full), isDir: entry.isDirectory() });
  }
  return out;
}

async function publishOne(port: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  // QoS 1: the PUBACK comes after the group commit, so the store's files exist when this resolves.
  await client.publishAsync('devices/at-rest/telemetry', JSON.stringify({ seq: 1, t: 20 }), { qos: 1 });
  await client.endAsync();
}

describe('data at rest', () => {
  let gateway: Gateway | undefined;
  let child: ChildGateway | undefined;
  let emulator: LocalEmulator | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await gateway?.stop(AbortSignal.timeout(10_000));
    gateway = undefined;
    if (child) {
      child.proc.kill('SIGKILL');
      await child.exited;
      child = undefined;
    }
    await emulator?.close();
    emulator = undefined;
    await cleanup?.();
  });

  it('an in-process gateway creates its data dir, and the parents it had to create, as 0700', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const dataDir = path.join(temp.dir, 'site', 'gateway', 'data');
    gateway = await Gateway.start(testConfig(dataDir), createLogger('silent', false, { write: () => undefined }));
    await publishOne(gateway.mqttAddresses[0]!.port);
    for (const dir of [path.join(temp.dir, 'site'), path.join(temp.dir, 'site', 'gateway'), dataDir]) {
      expect({ dir: path.relative(temp.dir, dir), mode: (await modeOf(dir)).toString(8) }).toEqual({ dir: path.relative(temp.dir, dir), mode: '700' });
    }
  });

  it('warns when an existing data dir is open to other users, and leaves its mode as the operator set it', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const dataDir = path.join(temp.dir, 'data');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    const lines: string[] = [];
    gateway = await Gateway.start(testConfig(dataDir), createLogger('warn', false, { write: (l: string) => void lines.push(l) }));
    const warning = lines.map((l) => JSON.parse(l) as { msg: string; mode?: string }).find((l) => l.msg.includes('open to other users'));
    expect(warning?.mode).toBe('755');
    expect(await modeOf(dataDir)).toBe(0o755);
  });

  it('`tidegate run` keeps the buffer files 0600 and its directories 0700', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const rig = await crashRig(temp.dir);
    emulator = rig.emulator;
    rig.kinesis.destroy();
    child = await startChildGateway(rig.configFile);
    await publishOne(child.mqttPort);
    const dataDir = path.join(temp.dir, 'data');
    const entries = await modesUnder(dataDir);
    // LevelDB's own files (CURRENT, LOCK, LOG, MANIFEST-*, *.log) and the control socket.
    expect(entries.map((e) => e.name)).toEqual(expect.arrayContaining(['CURRENT', 'LOCK']));
    expect(entries.some((e) => /^MANIFEST-/.test(e.name))).toBe(true);
    expect(entries.some((e) => e.name.endsWith('.sock'))).toBe(true);
    const loose = entries.filter((e) => e.mode !== (e.isDir ? 0o700 : 0o600)).map((e) => `${e.name} ${e.mode.toString(8)}`);
    expect(loose).toEqual([]);
    expect(await modeOf(dataDir)).toBe(0o700);
  });
});
