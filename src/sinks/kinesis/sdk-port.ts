import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, ListShardsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { AwsCredentials, AwsCredentialsProvider } from '../../aws/credentials.js';
import { internalFailure } from './classify.js';
import { keepAliveHandler } from './sdk-http-handler.js';
import type { KinesisPort, PutEntry, PutEntryResult, StreamSummary } from './port.js';
import { listAllShards } from './list-shards.js';
import type { ShardRange } from './shard-map.js';

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
  const requestHandler = keepAliveHandler(opts.requestTimeoutMs);
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

/**
 * PutRecords and the stream reads through the AWS SDK's client (`kinesis.putRecords: sdk`), for comparison
 * with the direct port; and the client the CLI's `tail` and `verify` read the stream with.
 */
export class SdkKinesisPort implements KinesisPort {
  constructor(private readonly client: KinesisClient) {}

  async putRecords(streamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    const out = await this.client.send(
      new PutRecordsCommand({ StreamName: streamName, Records: entries.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })) }),
      { abortSignal: signal },
    );
    const records = out.Records ?? [];
    if (records.length !== entries.length) {
      throw internalFailure(`PutRecords answered ${records.length} results for ${entries.length} entries`);
    }
    return records.map((r): PutEntryResult =>
      r.ErrorCode
        ? { ok: false, errorCode: r.ErrorCode, errorMessage: r.ErrorMessage ?? '' }
        : { ok: true, shardId: r.ShardId ?? '' },
    );
  }

  async describeStream(streamName: string, signal: AbortSignal): Promise<StreamSummary> {
    const out = await this.client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), { abortSignal: signal });
    const d = out.StreamDescriptionSummary;
    return { status: d?.StreamStatus ?? 'UNKNOWN', shards: d?.OpenShardCount ?? 0, maxRecordBytes: d?.MaxRecordSizeInKiB ? d.MaxRecordSizeInKiB * 1024 : null };
  }

  listShards(streamName: string, signal: AbortSignal): Promise<ShardRange[]> {
    return listAllShards(streamName, (request) => this.client.send(new ListShardsCommand(request), { abortSignal: signal }));
  }

  /** Creates a stream (the local emulator: tidegate never creates streams in AWS). */
  async createStream(streamName: string, shardCount: number, signal: AbortSignal): Promise<void> {
    await this.client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }), { abortSignal: signal });
  }

  /** The offset the SDK signs with (it learns it from the Date header of every reply), in milliseconds. */
  clockOffsetMs(): number {
    return (this.client.config as { systemClockOffset?: number }).systemClockOffset ?? 0;
  }

  close(): void {
    this.client.destroy();
  }
}
