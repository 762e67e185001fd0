import { parentPort, workerData } from 'node:worker_threads';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { EndpointReply, EndpointRequest } from './aws-endpoint.js';

// The worker side of awsKinesisEndpoint, in the SDK's order: an endpoint configured for the service
// (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL, the shared config file's endpoint_url; not with
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), else the SDK's own endpoint rules for the region, with FIPS and
// dual-stack as the SDK reads them (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT, use_fips_endpoint and
// use_dualstack_endpoint). The region to sign for is the SDK's too: `fips-us-east-1` signs as `us-east-1`.
// The thread then ends, and the SDK's client with it.
const { region } = workerData as EndpointRequest;
let reply: EndpointReply;
const client = new KinesisClient({ region });
try {
  const config = client.config;
  const [signingRegion, useFips, useDualstack] = await Promise.all([config.region(), config.useFipsEndpoint(), config.useDualstackEndpoint()]);
  const configured = config.ignoreConfiguredEndpointUrls ? undefined : await config.serviceConfiguredEndpoint?.();
  if (configured) reply = { ok: true, url: new URL(configured).href, signingRegion };
  else {
    const endpoint = config.endpointProvider({ Region: signingRegion, UseFIPS: useFips, UseDualStack: useDualstack, OperationType: 'data' });
    reply = { ok: true, url: endpoint.url.href, signingRegion };
  }
} catch (err) {
  reply = { ok: false, name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
} finally {
  client.destroy();
}
parentPort!.postMessage(reply);
