/**
 * Typed errors with stable codes. Code switches on `code`, never on message text
 * (the habit Level's LEVEL_LOCKED and fastify's FST_ERR_* codes taught).
 */
export type TidegateErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_READ'
  | 'ERR_QUEUE_LOCKED'
  | 'ERR_QUEUE_CLOSED'
  | 'ERR_QUEUE_OPEN'
  | 'ERR_QUEUE_WRITE'
  | 'ERR_QUEUE_FULL'
  | 'ERR_LISTENER_INSECURE'
  | 'ERR_LISTEN'
  | 'ERR_KINESIS_CALL'
  | 'ERR_KINESIS_OPERATOR'
  | 'ERR_EMULATOR_START'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_SHUTDOWN'
  | 'ERR_TLS_CONFIG'
  | 'ERR_AWS_CREDENTIALS'
  | 'ERR_USERS_FILE'
  | 'ERR_USAGE'
  | 'ERR_KPL_CHECKSUM'
  | 'ERR_KPL_MALFORMED'
  | 'ERR_TRANSFORM_STATE'
  | 'ERR_WEBHOOK_FAILED'
  | 'ERR_WEBHOOK_REJECTED';

export class TidegateError extends Error {
  readonly code: TidegateErrorCode;
  readonly retryable: boolean;

  constructor(code: TidegateErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TidegateError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function isTidegateError(err: unknown, code?: TidegateErrorCode): err is TidegateError {
  return err instanceof TidegateError && (code === undefined || err.code === code);
}

/** A message for logs that never throws on odd values. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
