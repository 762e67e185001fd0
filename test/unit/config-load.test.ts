import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, applyEnvOverrides, loadConfig, validateConfig, type ConfigProblem } from '../../src/config/load.js';
import { TidegateError } from '../../src/core/errors.js';

/** The problems of the ConfigError that `fn` throws. */
function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('validateConfig: defaults', () => {
  it('fills every default into an empty document', () => {
    const config = validateConfig({}, 'test', '/srv/tidegate');
    expect(config).toEqual({
      gatewayId: 'tidegate',
      dataDir: path.resolve('/srv/tidegate', 'data'),
      log: { level: 'info' },
      mqtt: {
        listeners: [{ host: '127.0.0.1', port: 1883 }],
        topicTemplate: 'devices/{deviceId}/#',
        maxPayloadBytes: 256 * 1024,
        auth: { acl: {}, anonymous: {} },
        limits: { connectTimeoutMs: 10_000, maxConnections: 1_000, maxKeepaliveSeconds: 3_600, maxTopicBytes: 256, maxTopicLevels: 32, maxClientIdLength: 128 },
      },
      buffer: { durability: 'fsync', commitIntervalMs: 10, maxCommitRecords: 2_000, commitTimeoutMs: 30_000, maxBytes: 2 * 1024 ** 3, whenFull: 'block' },
      kinesis: {
        streamName: 'tidegate-telemetry',
        region: 'us-east-1',
        local: { host: '127.0.0.1', port: 4567, shards: 2 },
        batch: { maxRecords: 500, maxBytes: 5 * 1024 * 1024, maxAgeMs: 200 },
        retry: { baseDelayMs: 100, maxDelayMs: 30_000 },
        requestTimeoutMs: 15_000,
        putRecords: 'direct',
        concurrency: 2,
        aggregation: { mode: 'none', maxBytes: 51_200 },
        pacing: { mode: 'auto', share: 0.9, recordsPerSecondPerShard: 1000, bytesPerSecondPerShard: 1024 * 1024, shardRefreshMs: 300_000 },
      },
      routes: [],
      rules: [],
      firehose: { appendNewline: true, batch: { maxRecords: 500, maxBytes: 4 * 1024 * 1024 } },
      status: { enabled: true, host: '127.0.0.1', port: 9464, maxDeliveryLagMs: 300_000 },
      shutdown: { deadlineMs: 10_000 },
      siteBrokers: [],
      serial: [],
      modbus: [],
      transforms: [],
      pipeline: { tickMs: 1_000, dropResends: true },
      alarms: { notify: { enabled: true, topicPrefix: 'tidegate/alarms', qos: 1 } },
    });
    expect(config.kinesis.endpoint).toBeUndefined();
  });

  it('treats a null or missing document (an empty YAML file) as empty', () => {
    expect(validateConfig(null, 'test').gatewayId).toBe('tidegate');
    expect(validateConfig(undefined, 'test').gatewayId).toBe('tidegate');
  });

  it('fills defaults inside partly given sections', () => {
    const config = validateConfig({ mqtt: { listeners: [{ port: 1884 }] }, kinesis: { batch: { maxRecords: 100 }, retry: { baseDelayMs: 5 } } }, 'test');
    expect(config.mqtt.listeners).toEqual([{ host: '127.0.0.1', port: 1884 }]);
    expect(config.mqtt.topicTemplate).toBe('devices/{deviceId}/#');
    expect(config.kinesis.batch).toEqual({ maxRecords: 100, maxBytes: 5 * 1024 * 1024, maxAgeMs: 200 });
    expect(config.kinesis.retry).toEqual({ baseDelayMs: 5, maxDelayMs: 30_000 });
  });

  it('resolves a relative dataDir against baseDir and keeps an absolute one', () => {
    expect(validateConfig({ dataDir: 'var/buf' }, 'test', '/opt/gw').dataDir).toBe(path.resolve('/opt/gw', 'var/buf'));
    expect(validateConfig({ dataDir: '/data/tidegate' }, 'test', '/opt/gw').dataDir).toBe(path.resolve('/data/tidegate'));
  });

  it('returns a deeply frozen config', () => {
    const config = validateConfig({}, 'test');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mqtt.listeners)).toBe(true);
    expect(Object.isFrozen(config.mqtt.listeners[0])).toBe(true);
    expect(Object.isFrozen(config.kinesis.batch)).toBe(true);
  });

  it('accepts the Kinesis limits at their maximum and refuses one over', () => {
    expect(validateConfig({ kinesis: { batch: { maxRecords: 500, maxBytes: 5 * 1024 * 1024 } } }, 'test').kinesis.batch.maxRecords).toBe(500);
    expect(problemsOf(() => validateConfig({ kinesis: { batch: { maxRecords: 501 } } }, 'test')).map((p) => p.path)).toEqual(['kinesis.batch.maxRecords']);
    expect(problemsOf(() => validateConfig({ kinesis: { batch: { maxBytes: 5 * 1024 * 1024 + 1 } } }, 'test')).map((p) => p.path)).toEqual(['kinesis.batch.maxBytes']);
  });

  it('refuses a topic template without {deviceId}', () => {
    expect(problemsOf(() => validateConfig({ mqtt: { topicTemplate: 'devices/+/#' } }, 'test'))).toEqual([
      expect.objectContaining({ path: 'mqtt.topicTemplate', message: 'must contain a {deviceId} level' }),
    ]);
  });
});

describe('validateConfig: problems', () => {
  it('reports an unknown top-level key', () => {
    const problems = problemsOf(() => validateConfig({ gatewayID: 'x' }, 'test'));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('');
    expect(problems[0]!.message).toContain('unknown key "gatewayID"');
  });

  it('reports unknown nested keys with their path, including array indexes', () => {
    const problems = problemsOf(() =>
      validateConfig({ mqtt: { listners: [] }, kinesis: { batch: { maxRecordz: 1 } }, buffer: { mode: 'x', sync: true } }, 'test'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'mqtt', message: expect.stringContaining('unknown key "listners"') }),
        expect.objectContaining({ path: 'kinesis.batch', message: expect.stringContaining('unknown key "maxRecordz"') }),
        expect.objectContaining({ path: 'buffer', message: expect.stringContaining('unknown keys "mode", "sync"') }),
      ]),
    );
    const inArray = problemsOf(() => validateConfig({ mqtt: { listeners: [{ host: '127.0.0.1' }, { hots: '127.0.0.1' }] } }, 'test'));
    expect(inArray).toEqual([expect.objectContaining({ path: 'mqtt.listeners[1]', message: expect.stringContaining('unknown key "hots"') })]);
  });

  it('suggests the nearest known key at the same place, and nothing when no key is close', () => {
    const message = (doc: unknown): string => problemsOf(() => validateConfig(doc, 'test'))[0]!.message;
    expect(message({ gatewayID: 'x' })).toBe('unknown key "gatewayID" (did you mean "gatewayId"?)');
    expect(message({ mqtt: { listners: [] } })).toBe('unknown key "listners" (did you mean "listeners"?)');
    expect(message({ mqtt: { listeners: [{ host: '127.0.0.1', prot: 1883 }] } })).toBe('unknown key "prot" (did you mean "port"?)');
    expect(message({ kinesis: { batch: { maxRecordz: 1 } } })).toContain('did you mean "maxRecords"?');
    expect(message({ buffer: { durabilty: 'os', qqqq: 1 } })).toBe('unknown keys "durabilty", "qqqq" (did you mean "durability" for "durabilty"?)');
    // In a rule's stage, among the keys of the stage's own type: "groupBy" of a window, not of another stage.
    const stage = { type: 'window', kind: 'tumbling', sizeMs: 60_000, gropuBy: ['room'], fields: ['temperature'], aggregates: ['mean'] };
    const inRule = problemsOf(() => validateConfig({ rules: [{ name: 'room-minute', stages: [stage] }] }, 'test'));
    expect(inRule.map((p) => p.message)).toContain('rule "room-minute": unknown key "gropuBy" (did you mean "groupBy"?)');
    expect(message({ zzzzzz: 1 })).toBe('unknown key "zzzzzz" (check the spelling against docs/reference/configuration.md)');
  });

  it('reports several problems at once, each with its path, and names them in the message', () => {
    let error: ConfigError | undefined;
    try {
      validateConfig({ gatewayId: 'bad id!', buffer: { durability: 'sometimes' }, kinesis: { batch: { maxRecords: 501 } }, mqtt: { listeners: [{ port: 70_000 }] } }, 'gw.yaml');
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.source).toBe('gw.yaml');
    expect(error!.problems.map((p) => p.path).sort()).toEqual(['buffer.durability', 'gatewayId', 'kinesis.batch.maxRecords', 'mqtt.listeners[0].port']);
    expect(error!.message).toContain('invalid configuration in gw.yaml (4 problems)');
    expect(error!.message).toContain('  - gatewayId: ');
    expect(error!.message).toContain('  - mqtt.listeners[0].port: ');
  });

  it('formats a top-level problem as "(top level)" with the singular "problem"', () => {
    expect(() => validateConfig({ extra: 1 }, 'x.yaml')).toThrow(/invalid configuration in x\.yaml \(1 problem\):\n {2}- \(top level\): unknown key "extra"/);
  });
});

describe('validateConfig: listener policy', () => {
  it('refuses a non-loopback listener without allowAnonymous, naming mqtt.listeners[0]', () => {
    const problems = problemsOf(() => validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0', port: 1883 }] } }, 'test'));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('mqtt.listeners[0]');
    expect(problems[0]!.message).toContain('listener 0.0.0.0:1883 is reachable from other machines');
    expect(problems[0]!.message).toContain('allowAnonymous: true');
    expect(() => validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0' }] } }, 'test')).toThrow(/mqtt\.listeners\[0\]/);
  });

  it('names the index of the offending listener among several', () => {
    const problems = problemsOf(() =>
      validateConfig({ mqtt: { listeners: [{ host: '127.0.0.1' }, { host: '192.168.1.5' }, { host: '::', allowAnonymous: false }] } }, 'test'),
    );
    expect(problems.map((p) => p.path)).toEqual(['mqtt.listeners[1]', 'mqtt.listeners[2]']);
  });

  it('accepts a non-loopback listener with allowAnonymous: true', () => {
    const config = validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0', port: 1883, allowAnonymous: true }] } }, 'test');
    expect(config.mqtt.listeners).toEqual([{ host: '0.0.0.0', port: 1883, allowAnonymous: true }]);
  });

  it('accepts a non-loopback listener when a users file is configured (authentication is required there)', () => {
    const config = validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0', port: 1883 }], auth: { usersFile: 'users' } } }, 'test', '/etc/tidegate');
    expect(config.mqtt.listeners[0]!.host).toBe('0.0.0.0');
    expect(config.mqtt.auth.usersFile).toBe(path.resolve('/etc/tidegate', 'users'));
  });

  it('reports the listener policy next to other problems, and suggests a users file', () => {
    const problems = problemsOf(() => validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0' }], limits: { maxTopicLevels: 0 } } }, 'test'));
    expect(problems.map((p) => p.path)).toEqual(['mqtt.limits.maxTopicLevels', 'mqtt.listeners[0]']);
    expect(problems[1]!.message).toContain('mqtt.auth.usersFile');
    expect(problemsOf(() => validateConfig({ mqtt: { listeners: [{ host: '0.0.0.0' }], auth: { usersFile: 'u' }, limits: { maxTopicLevels: 0 } } }, 'test')).map((p) => p.path)).toEqual([
      'mqtt.limits.maxTopicLevels',
    ]);
  });

  it('checks ACL rules: known placeholders only, wildcards as whole levels', () => {
    const problems = problemsOf(() => validateConfig({ mqtt: { auth: { acl: { publish: ['devices/{user}/#', 'a/b#'], subscribe: ['a/+x/c'] } } } }, 'test'));
    expect(problems.map((p) => p.path)).toEqual(['mqtt.auth.acl.publish[0]', 'mqtt.auth.acl.publish[1]', 'mqtt.auth.acl.subscribe[0]']);
    expect(problems[0]!.message).toContain('{username} and {clientId}');
    expect(problems[1]!.message).toContain('MQTT-4.7.1');
    const ok = validateConfig({ mqtt: { auth: { acl: { publish: ['site/+/{username}/#'], subscribe: ['cmd/{clientId}'] }, anonymous: { publish: [], subscribe: [] } } } }, 'test');
    expect(ok.mqtt.auth.acl.publish).toEqual(['site/+/{username}/#']);
  });

  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '::ffff:127.0.0.1'])('accepts the loopback listener %s without allowAnonymous', (host) => {
    expect(validateConfig({ mqtt: { listeners: [{ host }] } }, 'test').mqtt.listeners[0]!.host).toBe(host);
  });
});

describe('loadConfig', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, text: string): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, text, 'utf8');
    return file;
  }

  it('loads a YAML file and fills defaults', async () => {
    const file = await write('gw.yaml', 'gatewayId: edge-7\nmqtt:\n  listeners:\n    - host: 127.0.0.1\n      port: 1884\nkinesis:\n  endpoint: local\n');
    const config = await loadConfig(file, {});
    expect(config.gatewayId).toBe('edge-7');
    expect(config.mqtt.listeners).toEqual([{ host: '127.0.0.1', port: 1884 }]);
    expect(config.kinesis.endpoint).toBe('local');
    expect(config.buffer.durability).toBe('fsync');
    expect(config.dataDir).toBe(path.resolve(process.cwd(), 'data'));
  });

  it('loads an empty file as all defaults', async () => {
    expect((await loadConfig(await write('empty.yaml', ''), {})).gatewayId).toBe('tidegate');
  });

  it('loads the shipped config/default.yaml', async () => {
    const config = await loadConfig(path.resolve('config/default.yaml'), {});
    expect(config.gatewayId).toBe('tidegate-local');
    expect(config.kinesis.endpoint).toBe('local');
  });

  it('reports invalid YAML with its line', async () => {
    const file = await write('bad.yaml', 'gatewayId: a\nmqtt:\n\tlisteners: []\n');
    const err = await loadConfig(file, {}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toHaveLength(1);
    expect((err as ConfigError).problems[0]!.message).toMatch(/^not valid YAML at line 3, column 1: /);
    expect((err as ConfigError).message).toContain(file);
  });

  it('reports a file that cannot be read as ERR_CONFIG_READ', async () => {
    const missing = path.join(dir, 'missing.yaml');
    const err = await loadConfig(missing, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TidegateError);
    expect((err as TidegateError).code).toBe('ERR_CONFIG_READ');
    expect((err as TidegateError).message).toContain(missing);
  });

  it('gives each problem the line and column of its key in the file', async () => {
    const file = await write(
      'lines.yaml',
      ['gatewayId: edge-7', 'mqtt:', '  listeners:', '    - host: 127.0.0.1', '      prot: 1884', 'buffer:', '  durability: sometimes', ''].join('\n'),
    );
    const err = (await loadConfig(file, {}).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('  - mqtt.listeners[0] (line 5, column 7): unknown key "prot" (did you mean "port"?)');
    expect(err.message).toMatch(/ {2}- buffer\.durability \(line 7, column 3\): /);
  });

  it('leaves a problem of a value set from the environment without a line of the file', async () => {
    const file = await write('env.yaml', 'gatewayId: edge-7\n');
    const err = (await loadConfig(file, { TIDEGATE_LOG_LEVEL: 'loud' }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([expect.objectContaining({ path: 'log.level' })]);
    expect(err.problems[0]!.line).toBeUndefined();
  });

  it('reports schema problems with the file name as source', async () => {
    const file = await write('typo.yaml', 'mqtt:\n  maxPayloadByte: 10\n');
    await expect(loadConfig(file, {})).rejects.toThrow(new RegExp(`invalid configuration in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('applies environment overrides over the file', async () => {
    const file = await write(
      'gw.yaml',
      'gatewayId: from-file\ndataDir: ./file-data\nlog:\n  level: info\nkinesis:\n  streamName: file-stream\n  region: eu-west-1\n  batch:\n    maxRecords: 50\n',
    );
    const dataDir = path.join(dir, 'env-data');
    const config = await loadConfig(file, {
      TIDEGATE_DATA_DIR: dataDir,
      TIDEGATE_GATEWAY_ID: 'from-env',
      TIDEGATE_LOG_LEVEL: 'debug',
      TIDEGATE_KINESIS_STREAM: 'env-stream',
      TIDEGATE_KINESIS_REGION: 'eu-central-1',
      TIDEGATE_KINESIS_ENDPOINT: 'http://127.0.0.1:4567',
    });
    expect(config.dataDir).toBe(dataDir);
    expect(config.gatewayId).toBe('from-env');
    expect(config.log.level).toBe('debug');
    expect(config.kinesis.streamName).toBe('env-stream');
    expect(config.kinesis.region).toBe('eu-central-1');
    expect(config.kinesis.endpoint).toBe('http://127.0.0.1:4567');
    // Keys the environment does not set keep their file values.
    expect(config.kinesis.batch.maxRecords).toBe(50);
  });

  it('overrides only the variables that are set (an empty value counts as unset)', async () => {
    const file = await write('gw.yaml', 'gatewayId: from-file\nkinesis:\n  streamName: file-stream\n  region: eu-west-1\n');
    const config = await loadConfig(file, { TIDEGATE_KINESIS_REGION: 'ap-south-1', TIDEGATE_GATEWAY_ID: '' });
    expect(config.gatewayId).toBe('from-file');
    expect(config.kinesis.streamName).toBe('file-stream');
    expect(config.kinesis.region).toBe('ap-south-1');
  });

  it('validates overridden values like file values', async () => {
    const file = await write('gw.yaml', 'gatewayId: ok\n');
    const err = await loadConfig(file, { TIDEGATE_LOG_LEVEL: 'loud', TIDEGATE_GATEWAY_ID: 'has space' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path).sort()).toEqual(['gatewayId', 'log.level']);
  });
});

describe('applyEnvOverrides', () => {
  it('does not modify the parsed document', () => {
    const doc = { gatewayId: 'a', kinesis: { streamName: 's' } };
    const out = applyEnvOverrides(doc, { TIDEGATE_GATEWAY_ID: 'b', TIDEGATE_KINESIS_STREAM: 't' });
    expect(doc).toEqual({ gatewayId: 'a', kinesis: { streamName: 's' } });
    expect(out).toEqual({ gatewayId: 'b', kinesis: { streamName: 't' } });
  });

  it('starts from an empty document when the file held no mapping', () => {
    expect(applyEnvOverrides(null, { TIDEGATE_DATA_DIR: '/d' })).toEqual({ dataDir: '/d' });
    expect(applyEnvOverrides(undefined, {})).toEqual({});
  });
});
