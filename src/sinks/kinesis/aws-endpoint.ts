import { answerOf, startModuleWorker } from '../../core/module-worker.js';

/** What the endpoint worker is asked (workerData). */
export interface EndpointRequest {
  readonly region: string;
}

/** What it answers: the endpoint's URL, or why the SDK gave none, in a form that clones. */
export type EndpointReply = { readonly ok: true; readonly url: string } | { readonly ok: false; readonly message: string };

/**
 * The region a request is signed for, by the SDK's rule (its client's resolved `region`, checked in the
 * tests): a FIPS pseudo-region (`fips-us-east-1`, `us-gov-west-1-fips`) names the FIPS endpoint of a real
 * region, which is what the signature's scope holds. The same for a custom endpoint and AWS's own.
 */
export function signingRegionOf(region: string): string {
  if (!region.startsWith('fips-') && !region.endsWith('-fips')) return region;
  if (region === 'fips-aws-global' || region === 'aws-fips') return 'us-east-1';
  return region.replace(/fips-(dkr-|prod-)?|-fips/, '');
}

/**
 * The SDK gave no endpoint (a region the rules refuse, an endpoint URL in the environment that is not one):
 * the same answer every time, so it is not asked again, and the operator has to fix the setting
 * (classified as an operator failure).
 */
export const ENDPOINT_REFUSED = 'EndpointError';

/**
 * The Kinesis data-plane endpoint for a region as the AWS SDK finds it: one configured for the service
 * (AWS_ENDPOINT_URL_KINESIS and the like), else the SDK's own endpoint rules (partitions such as China and
 * GovCloud, FIPS, dual-stack), resolved in a worker thread that ends once it answered. The rules come only
 * with the whole SDK client, 1.5 MiB of live heap (measured) that the running gateway would carry and mark
 * for as long as it runs, for one answer at start (issue "Pi-class efficiency"). A region the rules refuse
 * comes back as an EndpointError with the SDK's message; a worker that failed or was aborted as itself.
 */
export function awsKinesisEndpoint(region: string, signal: AbortSignal): Promise<URL> {
  if (signal.aborted) return Promise.reject(aborted(signal));
  const worker = startModuleWorker(import.meta.url, 'endpoint-worker', { region } satisfies EndpointRequest);
  return answerOf<EndpointReply>(worker, signal, 'the Kinesis endpoint worker', () => aborted(signal)).then((reply) => {
    if (reply.ok) return new URL(reply.url);
    throw Object.assign(new Error(`no Kinesis endpoint for kinesis.region "${region}": ${reply.message}`), { name: ENDPOINT_REFUSED });
  });
}

/** Shaped as an aborted SDK request (`name: AbortError`), so a stop is recognised alike. */
function aborted(signal: AbortSignal): Error {
  return Object.assign(new Error(`resolving the Kinesis endpoint was aborted: ${String(signal.reason)}`), { name: 'AbortError' });
}
