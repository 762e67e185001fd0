import { NodeHttpHandler } from '@smithy/node-http-handler';
import { keepAliveAgents } from './keep-alive-agents.js';

/**
 * HTTP/1.1 with keep-alive for the AWS clients: the SDK's default handler for Kinesis speaks HTTP/2, which
 * kinesalite does not; reused HTTP/1.1 connections are as good against AWS. Bounded connect and request times.
 */
export function keepAliveHandler(requestTimeoutMs: number): NodeHttpHandler {
  const agents = keepAliveAgents();
  return new NodeHttpHandler({
    httpAgent: agents.http,
    httpsAgent: agents.https,
    connectionTimeout: Math.min(requestTimeoutMs, 10_000),
    requestTimeout: requestTimeoutMs,
  });
}
