import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `<name>.js` that sits beside the module at `besideUrl` (its `import.meta.url`).
 * Run from the TypeScript sources (the tests, `tsx src/main.ts`), the worker is the .ts file instead, under
 * tsx's loader registered in the worker itself: a worker does not inherit the hooks that `--import tsx`
 * registered in this thread, nor does it run `--import` given in its execArgv before its own entry module.
 */
export function startModuleWorker(besideUrl: string, name: string, workerData: unknown): Worker {
  if (!besideUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, besideUrl), { workerData });
  const script = new URL(`./${name}.ts`, besideUrl).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * The one message a worker posts before it ends, once it has ended: settled on exit, not on the message, so
 * the worker's heap is gone when the caller goes on. An abort terminates the worker and rejects with
 * `aborted()`; a worker that fails, or ends without a message, rejects with why (`what` names it).
 */
export function answerOf<T>(worker: Worker, signal: AbortSignal, what: string, aborted: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let reply: { value: T } | undefined;
    let failure: unknown;
    const onAbort = (): void => {
      failure = aborted();
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (message: T) => (reply = { value: message }));
    worker.once('error', (err) => (failure ??= err));
    worker.once('exit', (exitCode) => {
      signal.removeEventListener('abort', onAbort);
      if (failure !== undefined) return reject(failure);
      if (!reply) return reject(new Error(`${what} exited with code ${exitCode} without an answer`));
      resolve(reply.value);
    });
  });
}
