import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { boundedSignal, delay } from '../core/abort.js';
import { Backoff } from '../core/backoff.js';
import { describeError, isTidegateError, TidegateError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TlsMaterial } from '../core/tls-files.js';
import type { AwsCredentials, AwsCredentialsProvider } from './credential-types.js';

export interface IotCredentialsOptions {
  /** The account's credentials-provider host, optionally `host:port`. */
  endpoint: string;
  roleAlias: string;
  thingName: string;
  /** The device certificate, its key and optionally the CA of the endpoint (read and checked by the caller). */
  tls: Pick<TlsMaterial, 'cert' | 'key' | 'ca'>;
  logger: Logger;
  /** Aborts waits and requests in flight (shutdown). */
  signal?: AbortSignal;
  /** Bound on one HTTPS request, connection and TLS handshake included. */
  requestTimeoutMs?: number;
  /** Credentials are renewed this long before they expire. */
  refreshAheadMs?: number;
  /** Requests per renewal before giving up (the caller's next call starts a new renewal). */
  attempts?: number;
  backoff?: { baseMs: number; maxMs: number };
  now?: () => number;
}

// The SDK itself treats credentials as expired 5 minutes before `expiration` (EXPIRATION_MS in
// @smithy/core) and asks the provider again: renewing at the same point keeps one request per renewal.
const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
// The answer is a few hundred bytes; anything much larger is not the credentials provider.
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The AWS IoT credentials provider: temporary AWS credentials for the IAM role behind a role alias,
 * obtained over mutual TLS with the device's X.509 certificate, so no long-lived AWS key lives on the
 * gateway (https://docs.aws.amazon.com/iot/latest/developerguide/authorizing-direct-aws.html).
 *
 * The result is a plain credentials provider (an `AwsCredentialIdentityProvider` for any AWS SDK v3
 * client: Kinesis, Firehose). Credentials are cached and renewed `refreshAheadMs` before they expire;
 * concurrent callers share one renewal; failed requests are retried with jittered backoff. If a renewal
 * fails while the cached credentials are still valid, those are returned and the next call tries again.
 */
export function iotCredentialsProvider(opts: IotCredentialsOptions): AwsCredentialsProvider {
  const now = opts.now ?? Date.now;
  const refreshAheadMs = opts.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
  let cached: AwsCredentials | null = null;
  let renewal: Promise<AwsCredentials> | null = null;

  const fresh = (c: AwsCredentials | null): c is AwsCredentials => c !== null && c.expiration!.getTime() - now() > refreshAheadMs;

  return async () => {
    if (fresh(cached)) return cached;
    renewal ??= fetchWithRetry(opts).then(
      (c) => {
        cached = c;
        return c;
      },
    ).finally(() => {
      renewal = null;
    });
    try {
      return await renewal;
    } catch (err) {
      const previous = cached as AwsCredentials | null;
      if (previous && previous.expiration!.getTime() > now()) {
        opts.logger.warn(
          { roleAlias: opts.roleAlias, expiresAt: previous.expiration!.toISOString(), err: describeError(err) },
          'could not renew AWS credentials from the AWS IoT credentials provider; using the current ones until they expire',
        );
        return previous;
      }
      throw err;
    }
  };
}

async function fetchWithRetry(opts: IotCredentialsOptions): Promise<AwsCredentials> {
  const attempts = opts.attempts ?? 4;
  const backoff = new Backoff({ baseMs: opts.backoff?.baseMs ?? 250, maxMs: opts.backoff?.maxMs ?? 5_000 });
  for (let attempt = 1; ; attempt++) {
    try {
      const credentials = await fetchOnce(opts);
      opts.logger.info(
        { roleAlias: opts.roleAlias, thingName: opts.thingName, expiresAt: credentials.expiration!.toISOString() },
        'AWS credentials obtained from the AWS IoT credentials provider',
      );
      return credentials;
    } catch (err) {
      if (opts.signal?.aborted || !isTidegateError(err) || !err.retryable || attempt >= attempts) throw err;
      const wait = backoff.next();
      opts.logger.warn({ endpoint: opts.endpoint, attempt, retryInMs: wait, err: err.message }, 'AWS IoT credentials provider request failed; retrying');
      await delay(wait, opts.signal);
    }
  }
}

function fetchOnce(opts: IotCredentialsOptions): Promise<AwsCredentials> {
  const [host, portText] = opts.endpoint.split(':') as [string, string | undefined];
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  // Not AbortSignal.any with a timeout signal: that one can be collected before it fires (see boundedSignal).
  const bounded = boundedSignal(opts.signal, timeoutMs);
  const signal = bounded.signal;
  const where = `AWS IoT credentials provider ${opts.endpoint}`;
  const request = new Promise<AwsCredentials>((resolve, reject) => {
    const req = https.request(
      {
        host,
        port: portText ? Number(portText) : 443,
        method: 'GET',
        path: `/role-aliases/${encodeURIComponent(opts.roleAlias)}/credentials`,
        headers: { 'x-amzn-iot-thingname': opts.thingName, accept: 'application/json' },
        cert: opts.tls.cert,
        key: opts.tls.key,
        ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
        minVersion: 'TLSv1.2',
        // A fresh connection per renewal (one every few hours): nothing to keep alive.
        agent: false,
        signal,
      },
      (res) => {
        readBody(res).then(
          (body) => {
            try {
              resolve(parseAnswer(res.statusCode ?? 0, body, opts, where));
            } catch (err) {
              reject(err);
            }
          },
          (err: unknown) => reject(networkError(err, signal, timeoutMs, where)),
        );
      },
    );
    req.on('error', (err) => reject(networkError(err, signal, timeoutMs, where)));
    req.end();
  });
  return request.finally(() => bounded.done());
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('answer cut off')));
  });
}

function parseAnswer(status: number, body: string, opts: IotCredentialsOptions, where: string): AwsCredentials {
  if (status !== 200) {
    // Error bodies are {"message": "..."}: AWS's reason, no secret.
    let reason = body.slice(0, 300);
    try {
      reason = String((JSON.parse(body) as { message?: unknown }).message ?? reason).slice(0, 300);
    } catch {
      // not JSON: the raw start of the body is the best reason there is
    }
    const retryable = status === 429 || status >= 500;
    const fix = retryable
      ? 'the service is throttling or failing; tidegate retries'
      : `check that the certificate is active and attached to thing "${opts.thingName}", that its IoT policy allows iot:AssumeRoleWithCertificate on role alias "${opts.roleAlias}", and that the role alias exists in this account and region`;
    return failure(`${where} answered HTTP ${status}${reason ? ` (${reason})` : ''}; ${fix}`, retryable);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return failure(`${where} answered HTTP 200 with a body that is not JSON; check kinesis.credentials.iot.endpoint (the iot:CredentialProvider endpoint, not the data endpoint)`, false);
  }
  const c = (doc as { credentials?: Record<string, unknown> } | null)?.credentials;
  const text = (k: string): string | null => (typeof c?.[k] === 'string' && (c[k] as string).length > 0 ? (c[k] as string) : null);
  const expiration = new Date(text('expiration') ?? NaN);
  const accessKeyId = text('accessKeyId');
  const secretAccessKey = text('secretAccessKey');
  const sessionToken = text('sessionToken');
  if (!accessKeyId || !secretAccessKey || !sessionToken || Number.isNaN(expiration.getTime())) {
    return failure(`${where} answered without usable credentials (expected credentials.accessKeyId, secretAccessKey, sessionToken and expiration)`, false);
  }
  return { accessKeyId, secretAccessKey, sessionToken, expiration };
}

function failure(message: string, retryable: boolean): never {
  throw new TidegateError('ERR_AWS_CREDENTIALS', message, { retryable });
}

function networkError(err: unknown, signal: AbortSignal, timeoutMs: number, where: string): TidegateError {
  if (signal.aborted) {
    const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
    return timedOut
      ? new TidegateError('ERR_AWS_CREDENTIALS', `${where} did not answer within ${timeoutMs} ms`, { retryable: true, cause: err })
      : new TidegateError('ERR_ABORTED', `request to ${where} aborted`, { cause: err });
  }
  // Connection refused or reset, DNS, and TLS failures (an unknown or revoked certificate ends the handshake).
  return new TidegateError('ERR_AWS_CREDENTIALS', `request to ${where} failed: ${describeError(err)}`, { retryable: true, cause: err });
}
