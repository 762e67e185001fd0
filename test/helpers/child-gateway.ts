import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { emulatorClient } from './stream-reader.js';
import { childEnv } from './child-env.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ChildGateway {
  proc: ChildProcess;
  mqttPort: number;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  logs: string[];
}

/** Writes a YAML config for a child gateway that forwards to an external Kinesis endpoint. */
export async function writeChildConfig(dir: string, dataDir: string, kinesisEndpoint: string, extra = ''): Promise<string> {
  const file = path.join(dir, 'tidegate.yaml');
  await writeFile(
    file,
    [
      'gatewayId: crash-gw',
      `dataDir: ${JSON.stringify(dataDir)}`,
      'log: { level: info }',
      'mqtt: { listeners: [{ host: 127.0.0.1, port: 0 }] }',
      'buffer: { commitIntervalMs: 2 }',
      'status: { port: 0 }',
      `kinesis: { endpoint: ${JSON.stringify(kinesisEndpoint)}, region: us-east-1, streamName: crash-stream, retry: { baseDelayMs: 20, maxDelayMs: 500 } }`,
      extra,
    ].join('\n'),
  );
  return file;
}

/**
 * Runs `tidegate run` from source in a child process and waits until its MQTT listener is ready. `env` adds to
 * (or overrides) the child's environment: the keys it signs with, say.
 */
export async function startChildGateway(configFile: string, timeoutMs = 30_000, env: Record<string, string> = {}): Promise<ChildGateway> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/main.ts'), 'run', '--config', configFile], {
    cwd: repoRoot,
    env: childEnv({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const mqttPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child gateway not ready within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    lines.on('line', (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'MQTT listener ready' && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line of ours
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`child gateway exited (${code}) before it was ready:\n${logs.join('\n')}`));
    });
  });
  return { proc, mqttPort, exited, logs };
}

/**
 * What the crash tests share: a Kinesis emulator in the test process (so it outlives the gateway's
 * SIGKILL), its stream, and a config for a child gateway that forwards to it.
 */
export async function crashRig(dir: string, extraConfig = '') {
  const emulator = await startLocalEmulator('127.0.0.1', 0);
  const kinesis = emulatorClient(emulator.endpoint);
  await ensureStream(kinesis, 'crash-stream', 2, AbortSignal.timeout(10_000));
  const configFile = await writeChildConfig(dir, path.join(dir, 'data'), emulator.endpoint, extraConfig);
  return { emulator, kinesis, configFile };
}
