/**
 * Defaults of the `kinesis` slice, apart from its schema (./config.ts) so that an operator command can
 * resolve its stream without loading zod and the whole schema (src/config/kinesis-target.ts; issue
 * "Pi-class efficiency": CLI commands start in ≤ 300 ms). The schema takes its defaults from here too, so
 * the two cannot disagree.
 */
export const DEFAULT_STREAM_NAME = 'tidegate-telemetry';
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_LOCAL_HOST = '127.0.0.1';
export const DEFAULT_LOCAL_PORT = 4567;
export const DEFAULT_LOCAL_SHARDS = 2;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** AWS's bound on one call's timeout that the schema accepts (5 minutes). */
export const MAX_REQUEST_TIMEOUT_MS = 300_000;
/** CreateStream's StreamName: 1 to 128 of these characters. */
export const STREAM_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
export const MAX_STREAM_NAME_LENGTH = 128;
