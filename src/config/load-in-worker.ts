import { deepFreeze } from '../core/deep-freeze.js';
import { TidegateError, type TidegateErrorCode } from '../core/errors.js';
import { answerOf, startModuleWorker } from '../core/module-worker.js';
import { ConfigError } from './config-error.js';
import type { ConfigProblem } from './problem.js';
import type { Config } from './schema.js';

/** What the worker is asked (workerData). */
export interface LoadRequest {
  readonly file: string;
  readonly env: Record<string, string | undefined>;
}

/** What the worker answers: the validated config, or the error that loading it raised, in a form that clones. */
export type LoadReply =
  | { readonly ok: true; readonly config: Config }
  | {
      readonly ok: false;
      readonly error:
        | { readonly kind: 'config'; readonly source: string; readonly problems: ConfigProblem[] }
        | { readonly kind: 'tidegate'; readonly code: TidegateErrorCode; readonly message: string }
        | { readonly kind: 'other'; readonly message: string };
    };

/** A config file is read and checked in well under a second; a worker that takes this long is stuck. */
const LOAD_TIMEOUT_MS = 30_000;

/**
 * `loadConfig` in a worker thread, for `tidegate run`. Validation needs zod, yaml and every slice of the
 * schema: about 5 MiB of live heap that the running gateway would carry, and its old-space collections
 * would mark, for as long as it runs, and the garbage their loading leaves (an idle gateway measured 12 MiB
 * less resident with V8's defaults, 3 MiB less with the systemd unit's heap settings; issue: Pi-class
 * efficiency, bench/RESULTS.md "Resident memory"). In a worker they go when the thread ends, before the gateway starts; the config comes back as
 * a structured clone (it is plain data: no transform in the schema yields a class or a function), frozen
 * again here. Errors come back as the same ConfigError or TidegateError, with the same codes and messages.
 */
export function loadConfigInWorker(file: string, env: NodeJS.ProcessEnv = process.env, signal: AbortSignal = AbortSignal.timeout(LOAD_TIMEOUT_MS)): Promise<Config> {
  // Aborted before or during the load alike: the same error, and no worker left running.
  if (signal.aborted) return Promise.reject(abortedLoad(file, signal));
  const request: LoadRequest = { file, env: { ...env } };
  const worker = startModuleWorker(import.meta.url, 'load-worker', request);
  return answerOf<LoadReply>(worker, signal, `the config worker for ${file}`, () => abortedLoad(file, signal)).then((reply) => {
    if (reply.ok) return deepFreeze(reply.config);
    throw asError(reply.error);
  });
}

function abortedLoad(file: string, signal: AbortSignal): TidegateError {
  return new TidegateError('ERR_TIMEOUT', `loading the config file ${file} did not finish: ${String(signal.reason)}`, { cause: signal.reason });
}

function asError(error: Extract<LoadReply, { ok: false }>['error']): Error {
  switch (error.kind) {
    case 'config':
      return new ConfigError(error.source, error.problems);
    case 'tidegate':
      return new TidegateError(error.code, error.message);
    case 'other':
      return new Error(error.message);
  }
}
