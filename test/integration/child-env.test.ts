import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { crashRig, startChildGateway } from '../helpers/child-gateway.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

describe('a child gateway started by a test', () => {
  it('keeps to its own data dir when the parent shell sets TIDEGATE_DATA_DIR', { timeout: 60_000 }, async () => {
    const temp = await makeTempDir('tidegate-child-env-');
    cleanups.push(temp.cleanup);
    // A deployment shell's setting: the gateway reads it as an override of the config file's dataDir.
    const deployed = path.join(temp.dir, 'deployed-data');
    vi.stubEnv('TIDEGATE_DATA_DIR', deployed);
    vi.stubEnv('TIDEGATE_KINESIS_STREAM', 'production-telemetry');
    const rig = await crashRig(temp.dir);
    cleanups.push(async () => rig.kinesis.destroy());
    cleanups.push(() => rig.emulator.close());
    const child = await startChildGateway(rig.configFile);
    cleanups.push(async () => {
      child.proc.kill('SIGKILL');
      await child.exited;
    });
    // Ready means the buffer is open: in the configured dir, and nothing at the deployed one.
    expect((await readdir(path.join(temp.dir, 'data'))).length).toBeGreaterThan(0);
    await expect(access(deployed)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(child.logs.join('\n')).not.toContain('production-telemetry');
  });
});
