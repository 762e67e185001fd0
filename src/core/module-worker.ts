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
