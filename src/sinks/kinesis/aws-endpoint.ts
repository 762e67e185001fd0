import { startModuleWorker } from '../../core/module-worker.js';

/** What the endpoint worker is asked (workerData). */
export interface EndpointRequest {
  readonly region: string;
}

/** What it answers: the endpoint's URL, or why the SDK's rules gave none, in a form that clones. */
export type EndpointReply = { readonly ok: true; readonly url: string } | { readonly ok: false; readonly name: string; readonly message: string };

/**
 * The Kinesis data-plane endpoint for a region, from the AWS SDK's own endpoint rules (partitions such as
 * China and GovCloud, FIPS, dual-stack), resolved in a worker thread that ends once it answered. The rules
 * come only with the whole SDK client, about 4 MiB of heap that the running gateway would carry and mark
 * for as long as it runs, for one answer at start (issue "Pi-class efficiency"). Errors come back with the
 * SDK's name and message (an EndpointError for a region the rules refuse), and are retried like a failed call.
 */
export function awsKinesisEndpoint(region: string, signal: AbortSignal): Promise<URL> {
  if (signal.aborted) return Promise.reject(aborted(signal));
  const worker = startModuleWorker(import.meta.url, 'endpoint-worker', { region } satisfies EndpointRequest);
  return new Promise<URL>((resolve, reject) => {
    let reply: EndpointReply | undefined;
    let failure: unknown;
    const onAbort = (): void => {
      failure = aborted(signal);
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (message: EndpointReply) => (reply = message));
    worker.once('error', (err) => (failure ??= err));
    // Settled on exit, not on the message: the worker's heap is gone once the endpoint is used.
    worker.once('exit', (exitCode) => {
      signal.removeEventListener('abort', onAbort);
      if (failure !== undefined) return reject(failure);
      if (!reply) return reject(new Error(`the Kinesis endpoint worker exited with code ${exitCode} without an answer`));
      if (reply.ok) return resolve(new URL(reply.url));
      reject(Object.assign(new Error(`no Kinesis endpoint for kinesis.region "${region}": ${reply.message}`), { name: reply.name }));
    });
  });
}

/** Shaped as an aborted SDK request (`name: AbortError`), so a stop is recognised alike. */
function aborted(signal: AbortSignal): Error {
  return Object.assign(new Error(`resolving the Kinesis endpoint was aborted: ${String(signal.reason)}`), { name: 'AbortError' });
}
