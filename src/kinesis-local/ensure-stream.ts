import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { delay } from '../core/abort.js';
import { TidegateError } from '../core/errors.js';

/** Creates the stream when it does not exist and waits until it is ACTIVE (local emulator only). */
export async function ensureStream(client: KinesisClient, streamName: string, shards: number, signal: AbortSignal, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), { abortSignal: signal });
      if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      try {
        await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }), { abortSignal: signal });
      } catch (createErr) {
        // Another caller created it first: fine, keep waiting for ACTIVE.
        if ((createErr as Error).name !== 'ResourceInUseException') throw createErr;
      }
    }
    if (Date.now() - started > timeoutMs) {
      throw new TidegateError('ERR_EMULATOR_START', `stream ${streamName} did not become ACTIVE within ${timeoutMs} ms`);
    }
    await delay(50, signal);
  }
}
