import { isTidegateError } from '../../core/errors.js';

/**
 * Whole-call failures of PutRecords, by what must happen next. Retryable ones are retried with backoff
 * forever (the data is safe on disk); operator ones mark the gateway degraded with the reason and are
 * probed again at the longest backoff, never crash-looping.
 */
export type CallFailureKind = 'retryable' | 'operator';

const OPERATOR_ERRORS: Record<string, string> = {
  ResourceNotFoundException: 'the stream does not exist in this account and region: create it or fix kinesis.streamName / kinesis.region',
  AccessDeniedException: 'the credentials may not write to this stream: grant kinesis:PutRecords on it',
  UnrecognizedClientException: 'the AWS access key is not valid: check the credentials tidegate runs with',
  InvalidArgumentException: 'Kinesis rejected the request as invalid: check the stream settings',
  ValidationException: 'Kinesis rejected the request as invalid: check the stream settings',
  KMSDisabledException: 'the stream\'s KMS key is disabled: enable it',
  KMSNotFoundException: 'the stream\'s KMS key was not found: fix the stream encryption',
  KMSAccessDeniedException: 'the credentials may not use the stream\'s KMS key: grant kms:GenerateDataKey',
  KMSInvalidStateException: 'the stream\'s KMS key is in an invalid state',
  KMSOptInRequired: 'the account must opt in to KMS for this stream',
  // The SDK's endpoint rules refused kinesis.region (src/sinks/kinesis/aws-endpoint.ts).
  EndpointError: 'the SDK\'s endpoint rules know no Kinesis endpoint for kinesis.region: set a region such as eu-west-1, or kinesis.endpoint',
};

export interface CallFailure {
  kind: CallFailureKind;
  code: string;
  message: string;
  /** What the operator should do, for operator failures. */
  action?: string;
}

// Kinesis Data Firehose (PutRecordBatch) errors that need an operator; the others are retried.
const FIREHOSE_OPERATOR_ERRORS: Record<string, string> = {
  ResourceNotFoundException: 'the delivery stream does not exist in this account and region: create it or fix the route\'s firehose name / firehose.region',
  AccessDeniedException: 'the credentials may not write to this delivery stream: grant firehose:PutRecordBatch on it',
  UnrecognizedClientException: OPERATOR_ERRORS.UnrecognizedClientException!,
  InvalidArgumentException: 'Firehose rejected the request as invalid: check the delivery stream settings',
  ValidationException: 'Firehose rejected the request as invalid: check the delivery stream settings',
  InvalidKMSResourceException: 'the delivery stream\'s KMS key cannot be used: fix its encryption settings',
  InvalidSourceException: 'the delivery stream reads from a Kinesis stream and does not take direct puts: route to that stream instead',
};

/** A reply that breaks the call's contract (too few results, not JSON), shaped as the service's own InternalFailure: retried. */
export function internalFailure(message: string): Error {
  return Object.assign(new Error(message), { name: 'InternalFailure' });
}

export function classifyCallError(err: unknown, kind: 'kinesis' | 'firehose' = 'kinesis'): CallFailure {
  // The AWS IoT credentials provider refused (certificate, IoT policy or role alias): its message says what to fix.
  if (isTidegateError(err, 'ERR_AWS_CREDENTIALS') && !err.retryable) return { kind: 'operator', code: err.code, message: err.message, action: err.message };
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.name && e.name !== 'Error' ? e.name : (e.code ?? 'UnknownError');
  const message = e.message ?? String(err);
  const action = (kind === 'firehose' ? FIREHOSE_OPERATOR_ERRORS : OPERATOR_ERRORS)[code];
  if (action) return { kind: 'operator', code, message, action };
  // Network errors, timeouts, 5xx, throttling (ProvisionedThroughputExceeded, KMSThrottling, LimitExceeded):
  // the same call may succeed later.
  return { kind: 'retryable', code, message };
}
