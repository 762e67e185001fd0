import { parentPort, workerData } from 'node:worker_threads';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { EndpointReply, EndpointRequest } from './aws-endpoint.js';

// The worker side of awsKinesisEndpoint, in the SDK's order: an endpoint configured for the service
// (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL, the shared config file's endpoint_url; not with
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), else the SDK's own endpoint rules for the region, with FIPS and
// dual-stack as the SDK reads them (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT, use_fips_endpoint and
// use_dualstack_endpoint); a FIPS pseudo-region (`fips-us-east-1`) is the FIPS endpoint of its real region.
// The thread then ends, and the SDK's client with it.
const { region } = workerData as EndpointRequest;
let reply: EndpointReply;
const client = new KinesisClient({ region });
try {
  const config = client.config;
  const configured = config.ignoreConfiguredEndpointUrls ? undefined : await config.serviceConfiguredEndpoint?.();
  if (configured) reply = { ok: true, url: new URL(configured).href };
  else {
    const [realRegion, useFips, useDualstack] = await Promise.all([config.region(), config.useFipsEndpoint(), config.useDualstackEndpoint()]);
    reply = { ok: true, url: config.endpointProvider({ Region: realRegion, UseFIPS: useFips, UseDualStack: useDualstack, OperationType: 'data' }).url.href };
  }
} catch (err) {
  reply = { ok: false, message: err instanceof Error ? err.message : String(err) };
} finally {
  client.destroy();
}
parentPort!.postMessage(reply);
