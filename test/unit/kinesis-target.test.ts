import { describe, expect, it } from 'vitest';
import { configFilesPerTest } from '../helpers/config-file.js';
import { readKinesisTarget } from '../../src/config/kinesis-target.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { TidegateError } from '../../src/core/errors.js';

describe('readKinesisTarget: the stream without the schema', () => {
  const files = configFilesPerTest('tidegate-kinesis-target-');

  // `tidegate tail` reads the stream the gateway itself writes to: the same defaults, overrides and values.
  const agreeing: Array<{ name: string; text: string; env?: NodeJS.ProcessEnv }> = [
    { name: 'an empty file (the defaults)', text: '' },
    { name: 'the bundled emulator on another port', text: 'kinesis:\n  endpoint: local\n  local:\n    port: 14567\n' },
    { name: 'a custom endpoint, region, stream and timeout', text: 'kinesis:\n  streamName: plant-7.readings\n  region: eu-west-1\n  endpoint: https://kinesis.example.internal:8443\n  requestTimeoutMs: 5000\n' },
    { name: 'the environment over the file', text: 'kinesis:\n  streamName: ignored\n  region: ignored-too\n', env: { TIDEGATE_KINESIS_STREAM: 'from-env', TIDEGATE_KINESIS_REGION: 'ap-south-1', TIDEGATE_KINESIS_ENDPOINT: 'http://127.0.0.1:4999' } },
    { name: 'the keys tail does not read, set', text: 'kinesis:\n  concurrency: 4\n  batch:\n    maxAgeMs: 50\n  local:\n    shards: 4\n' },
  ];
  for (const c of agreeing) {
    it(`agrees with the validated config for ${c.name}`, async () => {
      const file = await files.write(c.text);
      const target = await readKinesisTarget(file, c.env ?? {});
      const { kinesis } = await loadConfig(file, c.env ?? {});
      expect(target).toEqual({ streamName: kinesis.streamName, region: kinesis.region, endpoint: kinesis.endpoint, local: { host: kinesis.local.host, port: kinesis.local.port }, requestTimeoutMs: kinesis.requestTimeoutMs });
    });
  }

  // Each of these the schema refuses; the light reading leaves them to it, so the operator hears why.
  const refused: Array<{ name: string; text: string; problem: RegExp }> = [
    { name: 'a kinesis section that is a list', text: 'kinesis: [a]\n', problem: /kinesis/ },
    { name: 'a stream name with a space', text: 'kinesis:\n  streamName: "my stream"\n', problem: /kinesis\.streamName/ },
    { name: 'a null stream name', text: 'kinesis:\n  streamName: null\n', problem: /kinesis\.streamName/ },
    { name: 'an empty region', text: 'kinesis:\n  region: ""\n', problem: /kinesis\.region/ },
    { name: 'an endpoint that is not a URL', text: 'kinesis:\n  endpoint: localhost\n', problem: /kinesis\.endpoint/ },
    { name: 'a port out of range', text: 'kinesis:\n  local:\n    port: 70000\n', problem: /kinesis\.local\.port/ },
    { name: 'a timeout over five minutes', text: 'kinesis:\n  requestTimeoutMs: 300001\n', problem: /kinesis\.requestTimeoutMs/ },
    { name: 'a fractional timeout', text: 'kinesis:\n  requestTimeoutMs: 1.5\n', problem: /kinesis\.requestTimeoutMs/ },
  ];
  for (const c of refused) {
    it(`leaves ${c.name} to the full validation`, async () => {
      const file = await files.write(c.text);
      expect(await readKinesisTarget(file, {})).toBeUndefined();
      await expect(loadConfig(file, {})).rejects.toSatisfy((err: unknown) => err instanceof ConfigError && c.problem.test(err.message));
    });
  }

  it('reports an unreadable file and invalid YAML as loadConfig does', async () => {
    await expect(readKinesisTarget(files.at('missing.yaml'), {})).rejects.toSatisfy((err: unknown) => err instanceof TidegateError && err.code === 'ERR_CONFIG_READ');
    const file = await files.write('kinesis: [unclosed\n');
    await expect(readKinesisTarget(file, {})).rejects.toSatisfy((err: unknown) => err instanceof ConfigError && /not valid YAML at line/.test(err.message));
  });
});
