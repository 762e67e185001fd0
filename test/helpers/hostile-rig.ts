import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startLocalEmulator, type LocalEmulator } from '../../src/kinesis-local/emulator.js';
import { ensureStream } from '../../src/kinesis-local/ensure-stream.js';
import { startChildGateway, type ChildGateway } from './child-gateway.js';
import { emulatorClient } from './stream-reader.js';

/**
 * A gateway in a child process, for tests that attack it: its memory, file descriptors and survival are
 * measured from outside (/proc/<pid>), and a crash cannot take the test runner with it.
 */
export interface HostileRig {
  child: ChildGateway;
  pid: number;
  mqttPort: number;
  statusUrl: string;
  emulator: LocalEmulator;
  close(): Promise<void>;
}

/** `mqttExtra` / `bufferExtra` are YAML for the rest of those blocks, e.g. `limits: { connectTimeoutMs: 1000 }`. */
export async function startHostileGateway(dir: string, mqttExtra = '', bufferExtra = ''): Promise<HostileRig> {
  const emulator = await startLocalEmulator('127.0.0.1', 0);
  await ensureStream(emulatorClient(emulator.endpoint), 'hostile-stream', 1, AbortSignal.timeout(10_000));
  const file = path.join(dir, 'tidegate.yaml');
  await writeFile(
    file,
    [
      'gatewayId: hostile-gw',
      `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
      'log: { level: info }',
      `mqtt: { listeners: [{ host: 127.0.0.1, port: 0 }]${mqttExtra ? `, ${mqttExtra}` : ''} }`,
      `buffer: { commitIntervalMs: 2${bufferExtra ? `, ${bufferExtra}` : ''} }`,
      'status: { port: 0 }',
      `kinesis: { endpoint: ${JSON.stringify(emulator.endpoint)}, region: us-east-1, streamName: hostile-stream, retry: { baseDelayMs: 20, maxDelayMs: 500 } }`,
    ].join('\n'),
  );
  let child: ChildGateway;
  try {
    child = await startChildGateway(file);
  } catch (err) {
    await emulator.close();
    throw err;
  }
  const statusPort = await statusPortOf(child);
  return {
    child,
    pid: child.proc.pid!,
    mqttPort: child.mqttPort,
    statusUrl: `http://127.0.0.1:${statusPort}`,
    emulator,
    close: async () => {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill('SIGTERM');
        const timer = setTimeout(() => child.proc.kill('SIGKILL'), 10_000);
        await child.exited;
        clearTimeout(timer);
      }
      await emulator.close();
    },
  };
}

/** The status server starts after the MQTT listener: its port comes from its log line. */
async function statusPortOf(child: ChildGateway, timeoutMs = 10_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const line of child.logs) {
      if (!line.includes('status server ready')) continue;
      const entry = JSON.parse(line) as { port?: number };
      if (entry.port) return entry.port;
    }
    if (Date.now() > until) throw new Error(`no status server log line within ${timeoutMs} ms:\n${child.logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resident memory of a process, in bytes (VmRSS from /proc/<pid>/status). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

/** Open file descriptors of a process. */
export async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** The value of one Prometheus sample, 0 when the series is absent. */
export async function metricValue(statusUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
