import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { loadConfigInWorker } from '../../src/config/load-in-worker.js';
import { isTidegateError } from '../../src/core/errors.js';
import { configFilesPerTest } from '../helpers/config-file.js';

// A config with defaults to fill in at every level: transforms, a rule with stages, the env override.
const CONFIG = `
gatewayId: worker-gw
dataDir: ./data
mqtt:
  listeners: [{ host: 127.0.0.1, port: 0 }]
kinesis: { endpoint: local }
transforms:
  - type: drop_fields
    fields: [debug]
rules:
  - name: rooms
    stages:
      - type: filter
        expr: temperature > -40.0
      - type: window
        kind: tumbling
        sizeMs: 60000
        fields: [temperature]
      - type: detect
        field: temperature_mean
        detector: { kind: threshold, raise: 30, clear: 28 }
`;

const rejection = async (work: Promise<unknown>): Promise<unknown> => {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected the load to fail');
};

describe('loading the config in a worker thread', () => {
  const files = configFilesPerTest('tidegate-config-worker-');

  it('gives the config loading it here gives, defaults filled in, frozen', async () => {
    const file = await files.write(CONFIG);
    const env = { TIDEGATE_LOG_LEVEL: 'debug' };
    const inWorker = await loadConfigInWorker(file, env);
    expect(inWorker).toEqual(await loadConfig(file, env));
    expect(inWorker.log.level).toBe('debug');
    expect(inWorker.rules[0]!.stages[1]).toMatchObject({ type: 'window', name: 'rooms', allowedLatenessMs: 5_000, aggregates: ['count', 'mean', 'min', 'max'] });
    expect(Object.isFrozen(inWorker)).toBe(true);
    expect(Object.isFrozen(inWorker.rules[0]!.stages[1])).toBe(true);
  });

  it('reports an invalid file with the same ConfigError: every problem, with its line', async () => {
    const file = await files.write('gatewayId: gw\nmqtt:\n  listners: []\nrules:\n  - name: r\n    stages:\n      - type: filter\n        expr: "temperature >"\n');
    const here = await rejection(loadConfig(file));
    const there = await rejection(loadConfigInWorker(file));
    expect(there).toBeInstanceOf(ConfigError);
    expect((there as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    expect((there as ConfigError).problems).toEqual((here as ConfigError).problems);
    expect((there as ConfigError).message).toBe((here as ConfigError).message);
    expect((there as ConfigError).problems.map((p) => p.line)).toEqual([3, 8]);
  });

  it('reports a file it cannot read with its code', async () => {
    const err = await rejection(loadConfigInWorker(files.at('missing.yaml')));
    expect(isTidegateError(err, 'ERR_CONFIG_READ')).toBe(true);
    expect((err as Error).message).toContain('missing.yaml');
  });

  it('stops the worker when the wait is aborted', async () => {
    const file = await files.write(CONFIG);
    const controller = new AbortController();
    const loading = loadConfigInWorker(file, {}, controller.signal);
    controller.abort(new Error('shutting down'));
    const err = await rejection(loading);
    expect(isTidegateError(err, 'ERR_TIMEOUT')).toBe(true);
    expect((err as Error).message).toContain('shutting down');
  });

  it('refuses to start a worker for a wait already aborted, with the same error', async () => {
    const file = await files.write(CONFIG);
    const err = await rejection(loadConfigInWorker(file, {}, AbortSignal.abort(new Error('already stopping'))));
    expect(isTidegateError(err, 'ERR_TIMEOUT')).toBe(true);
    expect((err as Error).message).toContain('already stopping');
  });
});
