import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { childEnv } from '../helpers/child-env.js';

const run = promisify(execFile);

/** The environment a child spawned with `childEnv(extra)` really sees. */
async function envOfChild(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], { env: childEnv(extra), timeout: 15_000 });
  return JSON.parse(stdout) as Record<string, string>;
}

describe('the environment of spawned test children', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('leaves a deployment shell\'s TIDEGATE_* and AWS_* settings behind, passing only what the test names', async () => {
    vi.stubEnv('TIDEGATE_DATA_DIR', '/var/lib/tidegate');
    vi.stubEnv('TIDEGATE_KINESIS_STREAM_NAME', 'production-telemetry');
    vi.stubEnv('AWS_PROFILE', 'production');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAREALKEY');
    const env = await envOfChild({ AWS_ACCESS_KEY_ID: 'test' });
    expect(env.TIDEGATE_DATA_DIR).toBeUndefined();
    expect(Object.keys(env).filter((k) => k.startsWith('TIDEGATE_'))).toEqual([]);
    expect(env.AWS_PROFILE).toBeUndefined();
    expect(env.AWS_ACCESS_KEY_ID).toBe('test');
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('is not vacuous: a child given the inherited environment does see TIDEGATE_DATA_DIR', async () => {
    vi.stubEnv('TIDEGATE_DATA_DIR', '/var/lib/tidegate');
    const { stdout } = await run(process.execPath, ['-e', 'process.stdout.write(process.env.TIDEGATE_DATA_DIR ?? "")'], { env: process.env, timeout: 15_000 });
    expect(stdout).toBe('/var/lib/tidegate');
  });
});
