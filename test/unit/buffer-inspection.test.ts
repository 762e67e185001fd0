import { describe, expect, it } from 'vitest';
import { configFilesPerTest } from '../helpers/config-file.js';
import { readBufferInspection } from '../../src/config/buffer-inspection.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('readBufferInspection: a stopped gateway\'s buffer settings without the schema', () => {
  const files = configFilesPerTest('tidegate-buffer-inspection-');

  const agreeing: Array<{ name: string; text: string; env?: NodeJS.ProcessEnv }> = [
    { name: 'an empty file (the defaults)', text: '' },
    { name: 'a gateway id, a budget and a drop policy', text: 'gatewayId: plant-7:line-2\ndataDir: ./var/buffer\nbuffer:\n  maxBytes: 67108864\n  whenFull: drop_oldest\n' },
    { name: 'the environment over the file', text: 'gatewayId: ignored\ndataDir: ./ignored\n', env: { TIDEGATE_GATEWAY_ID: 'from-env', TIDEGATE_DATA_DIR: '/var/lib/tidegate' } },
    { name: 'buffer keys it does not read, set', text: 'buffer:\n  durability: os\n  commitIntervalMs: 50\n' },
  ];
  for (const c of agreeing) {
    it(`agrees with the validated config for ${c.name}`, async () => {
      const file = await files.write(c.text);
      const inspection = await readBufferInspection(file, c.env ?? {});
      const config = await loadConfig(file, c.env ?? {});
      expect(inspection).toEqual({ dataDir: config.dataDir, gatewayId: config.gatewayId, maxBytes: config.buffer.maxBytes, whenFull: config.buffer.whenFull });
    });
  }

  it('does not need the rest of the config to be valid (the operator reads the buffer of a gateway that will not start)', async () => {
    const file = await files.write('gatewayId: gw-1\nrules:\n  - name: hot\n    when: "temperature >"\n');
    expect(await readBufferInspection(file, {})).toMatchObject({ gatewayId: 'gw-1' });
    await expect(loadConfig(file, {})).rejects.toBeInstanceOf(ConfigError);
  });

  const refused: Array<{ name: string; text: string; problem: RegExp }> = [
    { name: 'a gateway id with a slash', text: 'gatewayId: plant/7\n', problem: /gatewayId/ },
    { name: 'an empty data dir', text: 'dataDir: ""\n', problem: /dataDir/ },
    { name: 'a buffer section that is a string', text: 'buffer: big\n', problem: /buffer/ },
    { name: 'a budget under 1 MiB', text: 'buffer:\n  maxBytes: 1000\n', problem: /buffer\.maxBytes/ },
    { name: 'a budget written as text', text: 'buffer:\n  maxBytes: 2GiB\n', problem: /buffer\.maxBytes/ },
    { name: 'an unknown drop policy', text: 'buffer:\n  whenFull: drop_all\n', problem: /buffer\.whenFull/ },
  ];
  for (const c of refused) {
    it(`leaves ${c.name} to the full validation`, async () => {
      const file = await files.write(c.text);
      expect(await readBufferInspection(file, {})).toBeUndefined();
      await expect(loadConfig(file, {})).rejects.toSatisfy((err: unknown) => err instanceof ConfigError && c.problem.test(err.message));
    });
  }
});
