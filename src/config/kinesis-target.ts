import {
  DEFAULT_LOCAL_HOST,
  DEFAULT_LOCAL_PORT,
  DEFAULT_REGION,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_STREAM_NAME,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_STREAM_NAME_LENGTH,
  STREAM_NAME_PATTERN,
} from '../sinks/kinesis/defaults.js';
import { isMapping, isWholeNumber, orDefault, readUnvalidatedConfig } from './unvalidated.js';

/** The part of the `kinesis` slice that says where the stream is, as the validated config has it. */
export interface KinesisTarget {
  readonly streamName: string;
  readonly region: string;
  /** `local` (the bundled emulator on `local`), a URL, or undefined for Amazon Kinesis in `region`. */
  readonly endpoint?: string | undefined;
  readonly local: { readonly host: string; readonly port: number };
  readonly requestTimeoutMs: number;
}

const isStreamName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_STREAM_NAME_LENGTH && STREAM_NAME_PATTERN.test(v);
const isEndpoint = (v: unknown): v is string => v === 'local' || (typeof v === 'string' && /^https?:$/.test(URL.canParse(v) ? new URL(v).protocol : ''));

/**
 * Where a config file's stream is (`kinesis.streamName`, `region`, `endpoint`, `local`, `requestTimeoutMs`,
 * with the environment's overrides and the schema's defaults), read without loading the schema: `tidegate
 * tail` needs only this, and the schema costs about 300 ms of a command's start on this kind of machine
 * (issue "Pi-class efficiency": CLI commands start in ≤ 300 ms).
 *
 * Undefined when any of these keys holds what the schema would refuse, or what this reading does not
 * know (an endpoint that is not http or https): the caller then loads the whole config, which reports
 * the problem precisely or, where the schema accepts more than this reading, answers all the same.
 */
export async function readKinesisTarget(file: string, env: NodeJS.ProcessEnv = process.env): Promise<KinesisTarget | undefined> {
  const doc = await readUnvalidatedConfig(file, env);
  const kinesis = doc.kinesis === undefined ? {} : doc.kinesis;
  if (!isMapping(kinesis)) return undefined;
  const local = kinesis.local === undefined ? {} : kinesis.local;
  if (!isMapping(local)) return undefined;

  const streamName = orDefault(kinesis.streamName, DEFAULT_STREAM_NAME);
  const region = orDefault(kinesis.region, DEFAULT_REGION);
  const endpoint = kinesis.endpoint;
  const host = orDefault(local.host, DEFAULT_LOCAL_HOST);
  const port = orDefault(local.port, DEFAULT_LOCAL_PORT);
  const requestTimeoutMs = orDefault(kinesis.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
  if (!isStreamName(streamName)) return undefined;
  if (typeof region !== 'string' || region.length === 0) return undefined;
  if (endpoint !== undefined && !isEndpoint(endpoint)) return undefined;
  if (typeof host !== 'string' || !isWholeNumber(port, 0, 65535)) return undefined;
  if (!isWholeNumber(requestTimeoutMs, 1, MAX_REQUEST_TIMEOUT_MS)) return undefined;
  return { streamName, region, endpoint, local: { host, port }, requestTimeoutMs };
}
