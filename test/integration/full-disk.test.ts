import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { startChildGateway, writeChildConfig, type ChildGateway } from '../helpers/child-gateway.js';
import { emulatorClient, waitForStream } from '../helpers/stream-reader.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { childEnv } from '../helpers/child-env.js';

/** Mount refusals that mean "not allowed or not possible here" (no root, no CAP_SYS_ADMIN, no tmpfs), not a failure of the test. */
const MOUNT_REFUSED = /EPERM|EACCES|ENOSYS|ENOENT|permission denied|not permitted|must be superuser|only root|not supported|unknown filesystem/i;

/** Mounts a tmpfs of `sizeMiB` at `mountPoint`; null when done, else why this machine does not permit it. */
function mountTmpfs(mountPoint: string, sizeMiB: number): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mountPoint], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = `${e.code ?? ''} ${e.stderr?.toString().trim() ?? ''} ${e.message}`.trim();
    if (MOUNT_REFUSED.test(why)) return why;
    throw err;
  }
}

/**
 * A publish counts as acknowledged only if its PUBACK arrives; when the gateway refuses it, it closes the
 * connection and MQTT.js (without reconnect) never settles the publish, so wait a bounded time.
 */
function acknowledged(publish: Promise<unknown>, timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    publish.then(() => undefined),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no PUBACK')), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
const SIZE_MIB = 24;

/**
 * A real full disk: the data dir lives on a small tmpfs made for the test (mounting needs root, which CI
 * has), filled by another file, the way a full SD card happens in the field.
 */
describe('a full disk (needs permission to mount a small tmpfs)', () => {
  let mountPoint: string | undefined;
  let child: ChildGateway | undefined;
  let emulator: LocalEmulator | undefined;
  let proxy: TcpProxy | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    child?.proc.kill('SIGKILL');
    await child?.exited;
    if (mountPoint) execFileSync('umount', [mountPoint], { env: childEnv() });
    mountPoint = undefined;
    await proxy?.close();
    await emulator?.close();
    await cleanup?.();
  });

  it('stops acknowledging without crashing, resumes when space is freed, and loses nothing acknowledged', async (ctx) => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const small = path.join(temp.dir, 'small');
    await mkdir(small);
    // Tried, not guessed from the uid: root in a container without CAP_SYS_ADMIN cannot mount either.
    const notPermitted = mountTmpfs(small, SIZE_MIB);
    if (notPermitted !== null) {
      console.warn(`full-disk test skipped: mounting a tmpfs is not permitted here (${notPermitted})`);
      ctx.skip(`mounting a tmpfs is not permitted here: ${notPermitted}`);
      return;
    }
    mountPoint = small;
    emulator = await startLocalEmulator('127.0.0.1', 0);
    const kinesis = emulatorClient(emulator.endpoint);
    await ensureStream(kinesis, 'crash-stream', 2, AbortSignal.timeout(10_000));
    // Kinesis is cut while the disk fills, so nothing drains and the buffer only grows.
    proxy = new TcpProxy(emulator.port);
    await proxy.start();
    await proxy.cut();
    const configFile = await writeChildConfig(temp.dir, path.join(mountPoint, 'data'), proxy.url, 'shutdown: { deadlineMs: 2000 }');
    child = await startChildGateway(configFile);
    // Another file takes all but ~3 MiB.
    const filler = path.join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc((SIZE_MIB - 5) * 1024 * 1024));

    const acked = new Set<string>();
    let refused = 0;
    let seq = 0;
    // Incompressible payloads (LevelDB compresses its tables), 50 in flight per connection. Bounded: at
    // most 100 connections of 20 rounds each.
    for (let connection = 0; connection < 100 && refused === 0; connection++) {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${child.mqttPort}`, { clientId: `filler-${connection}`, reconnectPeriod: 0 });
      client.on('error', () => undefined);
      for (let round = 0; round < 20 && refused === 0; round++) {
        const sends = Array.from({ length: 50 }, () => {
          const s = ++seq;
          const pad = randomBytes(450).toString('base64');
          return acknowledged(client.publishAsync('devices/disk-1/t', JSON.stringify({ seq: s, pad }), { qos: 1 })).then(() => void acked.add(`disk-1#${s}`));
        });
        const results = await Promise.allSettled(sends);
        refused += results.filter((r) => r.status === 'rejected').length;
      }
      client.end(true);
    }
    expect(refused).toBeGreaterThan(0);
    expect(child.proc.exitCode, child.logs.slice(-20).join('\n')).toBeNull(); // still running

    await rm(filler);
    await proxy.restore();
    // Acknowledgements resume once the store is writable again.
    let resumedSeq = 0;
    await expect
      .poll(
        async () => {
          expect(child!.proc.exitCode, child!.logs.slice(-30).join('\n')).toBeNull();
          // A fresh connection per attempt: a refused publish closes the connection.
          const resumed = await mqtt.connectAsync(`mqtt://127.0.0.1:${child!.mqttPort}`, { clientId: `after-${resumedSeq}`, reconnectPeriod: 0 });
          resumed.on('error', () => undefined);
          try {
            await acknowledged(resumed.publishAsync('devices/disk-2/t', JSON.stringify({ seq: ++resumedSeq, v: 1 }), { qos: 1 }));
            acked.add(`disk-2#${resumedSeq}`);
            return true;
          } catch {
            return false;
          } finally {
            resumed.end(true);
          }
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe(true);

    try {
      const records = await waitForStream(kinesis, 'crash-stream', (r) => {
        const seen = new Set(r.map((x) => `${x.deviceId}#${x.seq}`));
        return [...acked].every((k) => seen.has(k));
      }, 60_000);
      const seen = new Set(records.map((x) => `${x.deviceId}#${x.seq}`));
      const lost = [...acked].filter((k) => !seen.has(k));
      if (lost.length > 0) console.error(child.logs.filter((l) => !l.includes('"level":30')).join('\n'));
      expect(lost).toEqual([]);
    } finally {
      kinesis.destroy();
    }
  }, 120_000);
});
