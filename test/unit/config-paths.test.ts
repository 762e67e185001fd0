import { describe, expect, it } from 'vitest';
import { configFilesPerTest } from '../helpers/config-file.js';
import { readConfigPaths } from '../../src/config/config-paths.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { TidegateError } from '../../src/core/errors.js';

describe('readConfigPaths: the paths without the validation', () => {
  const files = configFilesPerTest('tidegate-config-paths-');

  // The commands that use the light reading find the socket or users file the gateway itself uses.
  const cases: Array<{ name: string; text: string; env?: NodeJS.ProcessEnv }> = [
    { name: 'an empty file (the defaults)', text: '' },
    { name: 'a relative data dir', text: 'dataDir: ./var/buffer\n' },
    { name: 'an absolute data dir and a users file', text: 'dataDir: /srv/tidegate/data\nmqtt:\n  auth:\n    usersFile: ./users\n' },
    { name: 'TIDEGATE_DATA_DIR over the file', text: 'dataDir: ./ignored\n', env: { TIDEGATE_DATA_DIR: '/var/lib/tidegate' } },
  ];
  for (const c of cases) {
    it(`agrees with the validated config for ${c.name}`, async () => {
      const file = await files.write(c.text);
      const paths = await readConfigPaths(file, c.env ?? {});
      const config = await loadConfig(file, c.env ?? {});
      expect(paths).toEqual({ dataDir: config.dataDir, usersFile: config.mqtt.auth.usersFile });
    });
  }

  it('leaves a data dir or users file that is not a path undefined, for the full validation to explain', async () => {
    const file = await files.write('dataDir: 5\nmqtt:\n  auth:\n    usersFile: ""\n');
    expect(await readConfigPaths(file, {})).toEqual({ dataDir: undefined, usersFile: undefined });
    await expect(loadConfig(file, {})).rejects.toThrow(/dataDir/);
  });

  it('reports an unreadable file and invalid YAML as loadConfig does', async () => {
    await expect(readConfigPaths(files.at('missing.yaml'), {})).rejects.toSatisfy((err: unknown) => err instanceof TidegateError && err.code === 'ERR_CONFIG_READ');
    const file = await files.write('dataDir: [unclosed\n');
    await expect(readConfigPaths(file, {})).rejects.toSatisfy((err: unknown) => err instanceof ConfigError && /not valid YAML at line/.test(err.message));
  });
});
