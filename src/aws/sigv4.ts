import { createHash, createHmac } from 'node:crypto';
import type { AwsCredentials, AwsCredentialsProvider } from './credential-types.js';

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** A request to sign: what goes on the wire, less the headers signing adds. */
export interface SignableRequest {
  readonly method: string;
  /** The Host header's value (host, and port when not the scheme's default). */
  readonly host: string;
  /** The path as it goes on the wire (percent-encoded once, as URL.pathname is); no query string. */
  readonly path: string;
  /** Further headers to send and sign, names in lower case (content-type, x-amz-target, content-length). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * AWS Signature Version 4 for the JSON calls of the direct Kinesis port (AWS General Reference, "Create a
 * signed AWS API request"): the canonical request over every header it sends, the string to sign with the
 * credential scope, the signing key derived from the secret by date, region and service. The SDK's signer
 * (@smithy/signature-v4) needs most of @smithy/core loaded, about 1.5 MiB of live heap in a gateway that
 * otherwise has no SDK code (issue: Pi-class efficiency); its output for the same request is the reference
 * in the tests (test/unit/sigv4.test.ts), and a signature recomputed from the wire is checked against it
 * (test/integration/kinesis-direct-port.test.ts).
 */
export class SigV4Signer {
  /** The last signing key: it depends only on the day and the secret, so most requests reuse it. */
  private key: { scope: string; secret: string; key: Buffer } | null = null;

  constructor(
    private readonly region: string,
    private readonly service: string,
    private readonly credentials: AwsCredentials | AwsCredentialsProvider,
  ) {}

  /** The headers to send: the request's own, host, x-amz-date, x-amz-security-token (temporary credentials) and authorization. */
  async sign(request: SignableRequest, at: Date): Promise<Record<string, string>> {
    const creds = typeof this.credentials === 'function' ? await this.credentials() : this.credentials;
    const amzDate = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...request.headers, host: request.host, 'x-amz-date': amzDate };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    const signedHeaders = names.join(';');
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`;
    const canonicalRequest = [request.method, canonicalPath(request.path), '', canonicalHeaders, signedHeaders, sha256Hex(request.body)].join('\n');
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    const signature = createHmac('sha256', this.signingKey(scope, day, creds.secretAccessKey)).update(stringToSign).digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(scope: string, day: string, secret: string): Buffer {
    if (this.key?.scope === scope && this.key.secret === secret) return this.key.key;
    let key = hmac(`AWS4${secret}`, day);
    for (const part of [this.region, this.service, 'aws4_request']) key = hmac(key, part);
    this.key = { scope, secret, key };
    return key;
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The canonical URI: the path with empty, `.` and `..` segments resolved, then each segment URI-encoded
 * (RFC 3986 unreserved characters kept) once more: the path arrives encoded once, and every service but S3
 * wants it encoded twice.
 */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  if (segments.length === 0) return '/';
  return `/${segments.map(uriEncode).join('/')}${path.endsWith('/') ? '/' : ''}`;
}

function uriEncode(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
