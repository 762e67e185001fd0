import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { delay } from '../core/abort.js';
import { TidegateError } from '../core/errors.js';
import type { StreamPort } from '../sinks/kinesis/port.js';

/** What creating a stream takes: the direct port, or an SDK client's port (tests, benchmarks, the CLI). */
export interface StreamAdmin extends Pick<StreamPort, 'describeStream'> {
  createStream(streamName: string, shardCount: number, signal: AbortSignal): Promise<void>;
}

/** Creates the stream when it does not exist and waits until it is ACTIVE (local emulator only). */
export async function ensureStream(target: KinesisClient | StreamAdmin, streamName: string, shards: number, signal: AbortSignal, timeoutMs = 10_000): Promise<void> {
  // An SDK client goes through the SDK's port, loaded only then: the running gateway passes its direct port.
  const admin = 'send' in target ? new (await import('../sinks/kinesis/sdk-port.js')).SdkKinesisPort(target) : target;
  const started = Date.now();
  for (;;) {
    try {
      if ((await admin.describeStream(streamName, signal)).status === 'ACTIVE') return;
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      try {
        await admin.createStream(streamName, shards, signal);
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
