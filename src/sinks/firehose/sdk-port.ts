import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import type { AwsCredentials, AwsCredentialsProvider } from '../../aws/credentials.js';
import type { RecordPort, PutEntry, PutEntryResult } from '../kinesis/port.js';
import { keepAliveHandler } from '../kinesis/sdk-http-handler.js';

export interface FirehoseClientOptions {
  region: string;
  endpoint?: string;
  requestTimeoutMs: number;
  /** Static credentials or a provider (the AWS IoT credentials provider); absent means the standard chain. */
  credentials?: AwsCredentials | AwsCredentialsProvider;
}

export function createFirehoseClient(opts: FirehoseClientOptions): FirehoseClient {
  return new FirehoseClient({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    requestHandler: keepAliveHandler(opts.requestTimeoutMs),
    // As for Kinesis: tidegate resends exactly the failed entries itself, one SDK attempt per call.
    maxAttempts: 1,
  });
}

const NEWLINE = Buffer.from('\n');

/**
 * The only file of the Firehose path that touches the AWS SDK: PutRecordBatch, whose response, like
 * PutRecords', has one entry per record in request order, a RecordId or an ErrorCode (FailedPutCount > 0 on
 * HTTP 200). Firehose concatenates records into S3 objects as they are, so a newline is appended to each
 * (JSON lines) unless disabled. Partition keys do not exist in Firehose and are not sent.
 */
export class SdkFirehosePort implements RecordPort {
  constructor(
    private readonly client: FirehoseClient,
    private readonly appendNewline: boolean,
  ) {}

  async putRecords(deliveryStreamName: string, entries: readonly PutEntry[], signal: AbortSignal): Promise<PutEntryResult[]> {
    const out = await this.client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: deliveryStreamName,
        Records: entries.map((e) => ({ Data: this.appendNewline ? Buffer.concat([e.data, NEWLINE]) : e.data })),
      }),
      { abortSignal: signal },
    );
    const responses = out.RequestResponses ?? [];
    if (responses.length !== entries.length) {
      throw Object.assign(new Error(`PutRecordBatch answered ${responses.length} results for ${entries.length} records`), { name: 'InternalFailure' });
    }
    return responses.map((r): PutEntryResult =>
      r.ErrorCode ? { ok: false, errorCode: r.ErrorCode, errorMessage: r.ErrorMessage ?? '' } : { ok: true, shardId: '' },
    );
  }

  close(): void {
    this.client.destroy();
  }
}
