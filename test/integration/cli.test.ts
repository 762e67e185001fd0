import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tidegate } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('tidegate CLI', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('accepts the shipped default config', async () => {
    const result = await tidegate('check-config', 'config/default.yaml');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('configuration is valid');
  });

  it('reports every problem of a bad config with its path and exits with status 2', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const file = path.join(temp.dir, 'bad.yaml');
    await writeFile(
      file,
      ['mqtt:', '  listeners:', '    - host: 0.0.0.0', '      port: 99999', '  topicTemplate: "devices/+/x"', 'kinesis:', '  batch: { maxRecords: 501 }', '  streem: typo'].join('\n'),
    );
    const result = await tidegate('check-config', file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`invalid configuration in ${file}`);
    expect(result.stderr).toContain('mqtt.listeners[0].port');
    // Each problem names the line and column of its key in the file.
    expect(result.stderr).toContain('mqtt.topicTemplate (line 5, column 3): must contain a {deviceId} level');
    expect(result.stderr).toContain('kinesis.batch.maxRecords');
    expect(result.stderr).toContain('kinesis (line 8, column 3): unknown key "streem"');
  });

  it('refuses a network listener without authentication unless allowAnonymous is explicit', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const open = path.join(temp.dir, 'open.yaml');
    await writeFile(open, 'mqtt: { listeners: [{ host: 0.0.0.0, port: 1883 }] }\n');
    const refused = await tidegate('check-config', open);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/mqtt\.listeners\[0\]: listener 0\.0\.0\.0:1883 is reachable from other machines/);
    const allowed = path.join(temp.dir, 'allowed.yaml');
    await writeFile(allowed, 'mqtt: { listeners: [{ host: 0.0.0.0, port: 1883, allowAnonymous: true }] }\n');
    expect((await tidegate('check-config', allowed)).code).toBe(0);
  });

  it('reports invalid YAML with its line, and a missing file, with status 2', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const file = path.join(temp.dir, 'broken.yaml');
    await writeFile(file, 'mqtt:\n  listeners: [\n');
    const broken = await tidegate('check-config', file);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid YAML at line \d+/);
    const missing = await tidegate('run', '--config', path.join(temp.dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config file');
  });

  it('tail reports a malformed kinesis section with its path and status 2, as the full validation does', async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    const file = path.join(temp.dir, 'bad-stream.yaml');
    await writeFile(file, 'kinesis:\n  streamName: "my stream"\n  endpoint: http://127.0.0.1:9\n');
    const result = await tidegate('tail', '--config', file, '--no-follow');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/kinesis\.streamName/);
  });

  it('has --help on every command', async () => {
    for (const command of ['run', 'tail', 'check-config', 'status', 'config-schema', 'install-service']) {
      const result = await tidegate(command, '--help');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: tidegate ${command}`);
    }
  });

  it('prints its version with --version and -V', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await tidegate(flag);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it('refuses an unknown command with status 2, with --help too, and names the nearest one', async () => {
    const typo = await tidegate('sttaus', '--help');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'sttaus' (did you mean 'status'?)");
    expect(typo.stdout).not.toContain('Usage: tidegate');
    const far = await tidegate('frobnicate');
    expect(far.code).toBe(2);
    expect(far.stderr).toContain("unknown command 'frobnicate';");
    expect(far.stderr).not.toContain('did you mean');
  });
});
