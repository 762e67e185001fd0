import { spawn } from 'node:child_process';
import path from 'node:path';
import { childEnv } from './child-env.js';

export interface PtyPair {
  /** The end the simulator writes to. */
  a: string;
  /** The end a reader (the gateway, or the test) reads from. */
  b: string;
  close(): Promise<void>;
}

/**
 * A connected pseudo-terminal pair from socat, as links in `dir`. Resolves when socat reports its
 * transfer loop is running (both links exist); socat is killed by close().
 */
export async function startPtyPair(dir: string, timeoutMs = 10_000): Promise<PtyPair> {
  const a = path.join(dir, 'ttyA');
  const b = path.join(dir, 'ttyB');
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not start within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (is it installed? apt-get install socat): ${err.message}`));
    });
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`socat exited before it was ready:\n${log}`));
    });
  });
  return {
    a,
    b,
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
