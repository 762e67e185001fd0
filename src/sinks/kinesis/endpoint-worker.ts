import { parentPort, workerData } from 'node:worker_threads';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { EndpointReply, EndpointRequest } from './aws-endpoint.js';

// The worker side of awsKinesisEndpoint: the SDK's own endpoint rules for the region, with FIPS and dual-stack
// as the SDK reads them (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT, the shared config file's
// use_fips_endpoint and use_dualstack_endpoint). The thread then ends, and the SDK's client with it.
const { region } = workerData as EndpointRequest;
let reply: EndpointReply;
const client = new KinesisClient({ region });
try {
  const config = client.config;
  const [resolvedRegion, useFips, useDualstack] = await Promise.all([config.region(), config.useFipsEndpoint(), config.useDualstackEndpoint()]);
  const endpoint = config.endpointProvider({ Region: resolvedRegion, UseFIPS: useFips, UseDualStack: useDualstack, OperationType: 'data' });
  reply = { ok: true, url: endpoint.url.href };
} catch (err) {
  reply = { ok: false, name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
} finally {
  client.destroy();
}
parentPort!.postMessage(reply);
