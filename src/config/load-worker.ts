import { parentPort, workerData } from 'node:worker_threads';
import { isTidegateError } from '../core/errors.js';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load.js';
import type { LoadReply, LoadRequest } from './load-in-worker.js';

// The worker side of loadConfigInWorker: validates the file and posts the config (or why it is not one)
// back; the thread then ends, and its heap with zod and the schemas goes with it.
const request = workerData as LoadRequest;
let reply: LoadReply;
try {
  reply = { ok: true, config: await loadConfig(request.file, request.env) };
} catch (err) {
  if (err instanceof ConfigError) reply = { ok: false, error: { kind: 'config', source: err.source, problems: err.problems } };
  else if (isTidegateError(err)) reply = { ok: false, error: { kind: 'tidegate', code: err.code, message: err.message } };
  else reply = { ok: false, error: { kind: 'other', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } };
}
parentPort!.postMessage(reply);
