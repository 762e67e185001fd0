import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { analyzeStream, type VerifyReport } from './analyze.js';
import { readAllShards, type ReadOptions } from './read-all-shards.js';

/** Reads the whole stream (or from `since`, for at most `durationMs`) and checks what it holds. */
export async function verifyStream(client: KinesisClient, stream: string, opts: ReadOptions, signal: AbortSignal): Promise<VerifyReport> {
  return analyzeStream(stream, await readAllShards(client, stream, opts, signal));
}
