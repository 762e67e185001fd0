import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv } from '../../helpers/child-env.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');

// In a child process: the module cache must be fresh, as it is when `tidegate run` starts.
const SCRIPT = `
import { createRequire } from 'node:module';
import { quietDisabledDebug } from ${JSON.stringify(path.join(repoRoot, 'src/core/quiet-debug.ts'))};
const require = createRequire(${JSON.stringify(path.join(repoRoot, 'package.json'))});
const wrapped = quietDisabledDebug();
const again = quietDisabledDebug();
const mqtt = require('mqtt-packet');
const parser = mqtt.parser({ protocolVersion: 4 });
const topics = [];
parser.on('packet', (p) => topics.push(p.topic));
parser.parse(mqtt.generate({ cmd: 'publish', topic: 'devices/d1/telemetry', payload: Buffer.from('{"t":21.5}'), qos: 1, messageId: 7 }));
const debugOfMqttPacket = createRequire(require.resolve('mqtt-packet'))('debug');
const instance = debugOfMqttPacket('mqtt-packet:parser');
const child = instance.extend('child');
console.log(JSON.stringify({ wrapped, again, topics, arity: instance.length, enabled: instance.enabled, childEnabled: child.enabled, childNamespace: child.namespace, hasEnable: typeof debugOfMqttPacket.enable, quietFactory: debugOfMqttPacket[Symbol.for('tidegate.quietDebug')] === true, useColors: typeof instance.useColors }));
`;

function runScript(file: string, env: Record<string, string>): Promise<{ out: Record<string, unknown>; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, timeout: 30_000, env: childEnv(env) }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ out: JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>, stderr }),
    ),
  );
}

describe('quietDisabledDebug', () => {
  let dir: string;
  let script: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tidegate-quiet-debug-'));
    script = path.join(dir, 'probe.mjs');
    await writeFile(script, SCRIPT);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('hands a library a no-argument, disabled debug when DEBUG does not name it, and the library still works', async () => {
    const { out, stderr } = await runScript(script, {});
    expect(out.wrapped).toBeGreaterThanOrEqual(1);
    expect(out.again).toBe(0); // already wrapped: not wrapped twice
    expect(out.topics).toEqual(['devices/d1/telemetry']);
    expect(out.quietFactory).toBe(true);
    expect(out.useColors).toBe('undefined'); // not debug's own instance, which has it
    expect(out.arity).toBe(0);
    expect(out.enabled).toBe(false);
    expect(out.childEnabled).toBe(false);
    expect(out.childNamespace).toBe('mqtt-packet:parser:child');
    expect(out.hasEnable).toBe('function');
    expect(stderr).not.toContain('mqtt-packet:parser');
  });

  it('keeps the real debug for a namespace DEBUG enables: its output still appears', async () => {
    const { out, stderr } = await runScript(script, { DEBUG: 'mqtt-packet:parser' });
    expect(out.topics).toEqual(['devices/d1/telemetry']);
    expect(out.enabled).toBe(true);
    expect(out.useColors).toBe('boolean'); // debug's own instance
    expect(stderr).toContain('mqtt-packet:parser');
    expect(stderr).toMatch(/parse: propagating packet|_parsePublish/);
  });
});
