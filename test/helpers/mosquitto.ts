import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { childEnv } from './child-env.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** A free loopback port: bound to 0 and released (mosquitto takes a port number, not 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once a TCP connection to the port succeeds; bounded by `timeoutMs`. */
async function waitForListener(port: number, proc: ChildProcess, timeoutMs: number, logs: string[]): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`mosquitto exited (${proc.exitCode ?? proc.signalCode}):\n${logs.join('')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`mosquitto did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Mosquitto {
  port: number;
  url: string;
  /** Its log file (`log_type all` unless quiet: every packet it sends and receives). */
  logFile: string;
  readLog(): Promise<string>;
  /** SIGTERM (mosquitto writes its persistence file on the way out) and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and persistence directory. */
  restart(): Promise<void>;
}

/**
 * Runs a real mosquitto on a free loopback port, with persistence in `dir`, from a generated config.
 * Queues are unbounded (`max_queued_messages 0`): mosquitto's default of 1,000 queued messages per
 * persistent session would drop messages for a subscriber that is away, which is not what these tests measure.
 */
export async function startMosquitto(dir: string, opts: { timeoutMs?: number; extraConfig?: string[]; quiet?: boolean; passwordFile?: string } = {}): Promise<Mosquitto> {
  const port = await freePort();
  const config = path.join(dir, 'mosquitto.conf');
  const logFile = path.join(dir, 'mosquitto.log');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      ...(opts.passwordFile ? ['allow_anonymous false', `password_file ${opts.passwordFile}`] : ['allow_anonymous true']),
      // Started as root, mosquitto would drop to the user "mosquitto", who cannot write the test's temp dir.
      `user ${os.userInfo().username}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 0',
      `log_dest file ${logFile}`,
      // `quiet` (benchmarks): a log line per packet would cost mosquitto more than the traffic itself.
      ...(opts.quiet ? ['log_type error', 'log_type warning'] : ['log_type all']),
      'log_timestamp true',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const logs: string[] = [];
    const child = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    child.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    proc = child;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitForListener(port, child, opts.timeoutMs ?? 10_000, logs);
  };
  await launch();
  const stop = async (): Promise<void> => {
    const child = proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    logFile,
    readLog: () => readFile(logFile, 'utf8').catch(() => ''),
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}
