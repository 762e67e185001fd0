import http from 'node:http';
import https from 'node:https';
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentials, AwsCredentialsProvider } from '../../aws/credentials.js';
import type { KinesisPort, PutEntry, PutEntryResult } from './port.js';

export interface SdkPortOptions {
  region: string;
  /** A Kinesis-compatible endpoint; absent means AWS's own for the region. */
  endpoint?: string;
  requestTimeoutMs: number;
  /**
   * Static credentials (local emulators) or a provider (the AWS IoT credentials provider); absent means the
   * SDK's default chain: environment, SSO, shared profile, credential_process, web identity token (EKS IRSA),
   * ECS/EKS container credentials, EC2 instance role (@aws-sdk/credential-provider-node).
   */
  credentials?: AwsCredentials | AwsCredentialsProvider;
}

export function createKinesisClient(opts: SdkPortOptions): KinesisClient {
  // The SDK's default handler speaks HTTP/2, which kinesalite does not; HTTP/1.1 with keep-alive reuses
  // connections and is as good against AWS.
  const requestHandler = new NodeHttpHandler({
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 16 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 16 }),
    connectionTimeout: Math.min(opts.requestTimeoutMs, 10_000),
    requestTimeout: opts.requestTimeoutMs,
  });
  return new KinesisClient({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    requestHandler,
    // tidegate owns retries (it must resend exactly the failed entries); one SDK attempt per call keeps
    // the timing and the counters honest.
    maxAttempts: 1,
  });
}

/** The only file of the sink that touches the AWS SDK. */
export class SdkKinesisPort implements KinesisPort {
  constructor(private readonly client: KinesisClient) {}

  async putRecords(streamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    const out = await this.client.send(
      new PutRecordsCommand({ StreamName: streamName, Records: entries.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })) }),
      { abortSignal: signal },
    );
    const records = out.Records ?? [];
    if (records.length !== entries.length) {
      throw Object.assign(new Error(`PutRecords answered ${records.length} results for ${entries.length} entries`), { name: 'InternalFailure' });
    }
    return records.map((r): PutEntryResult =>
      r.ErrorCode
        ? { ok: false, errorCode: r.ErrorCode, errorMessage: r.ErrorMessage ?? '' }
        : { ok: true, shardId: r.ShardId ?? '', sequenceNumber: r.SequenceNumber ?? '' },
    );
  }

  async describeStream(streamName: string, signal: AbortSignal): Promise<{ status: string; shards: number }> {
    const out = await this.client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), { abortSignal: signal });
    const d = out.StreamDescriptionSummary;
    return { status: d?.StreamStatus ?? 'UNKNOWN', shards: d?.OpenShardCount ?? 0 };
  }

  close(): void {
    this.client.destroy();
  }
}
