import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { SigV4Signer, type SignableRequest } from '../../src/aws/sigv4.js';

/** The SDK's Node hash, rebuilt on node:crypto for the reference signer (the SDK client is not needed for it). */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined ? undefined : typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.hash = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

/** What the SDK's own signer makes of the same request, signing exactly the headers ours signed. */
async function referenceAuthorization(request: SignableRequest, signed: Record<string, string>, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, region: string, at: Date): Promise<string> {
  const reference = new SignatureV4({ credentials, region, service: 'kinesis', sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const { authorization: _ours, ...headers } = signed;
  const [hostname, port] = request.host.split(':');
  const out = await reference.sign({ method: request.method, protocol: 'https:', hostname: hostname!, ...(port ? { port: Number(port) } : {}), path: request.path, headers, body: request.body, query: {} }, { signingDate: at });
  return String(out.headers.authorization);
}

const body = Buffer.from('{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"pump-7"}]}');
const request = (path: string, host = 'kinesis.eu-west-1.amazonaws.com'): SignableRequest => ({
  method: 'POST',
  host,
  path,
  headers: { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(body.length), 'x-amz-target': 'Kinesis_20131202.PutRecords' },
  body,
});

describe('SigV4 of the direct Kinesis port', () => {
  const at = new Date('2026-12-08T03:04:05.678Z');

  it('signs as the SDK\'s signer does: long-term keys, temporary ones, a port, paths that need encoding', async () => {
    const cases: Array<{ path: string; host?: string; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } }> = [
      { path: '/', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' } },
      { path: '/', credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token+/=with  spaces' } },
      { path: '/', host: '127.0.0.1:4567', credentials: { accessKeyId: 'AKID', secretAccessKey: 's' } },
      { path: '/prefix/a%20b/./c/../d(1)!/', host: 'proxy.example:8443', credentials: { accessKeyId: 'AKID', secretAccessKey: 's' } },
      { path: '//kinesis//x', credentials: { accessKeyId: 'AKID', secretAccessKey: 's' } },
    ];
    for (const c of cases) {
      const r = request(c.path, c.host);
      const signed = await new SigV4Signer('eu-west-1', 'kinesis', c.credentials).sign(r, at);
      expect(signed.authorization, c.path).toBe(await referenceAuthorization(r, signed, c.credentials, 'eu-west-1', at));
      expect(signed['x-amz-date']).toBe('20261208T030405Z');
      expect(signed['x-amz-security-token']).toBe(c.credentials.sessionToken);
      expect(signed.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=\w+\/20261208\/eu-west-1\/kinesis\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;(x-amz-security-token;)?x-amz-target, Signature=[0-9a-f]{64}$/);
    }
  });

  it('asks a provider for credentials at every signature, and derives a new key when the day or the secret changes', async () => {
    let n = 0;
    const rotating = async () => ({ accessKeyId: `AKID${++n}`, secretAccessKey: `secret-${n}`, sessionToken: `token-${n}` });
    const signer = new SigV4Signer('us-east-1', 'kinesis', rotating);
    const r = request('/');
    for (const when of [at, at, new Date('2026-12-09T00:00:01Z')]) {
      const before = n;
      const signed = await signer.sign(r, when);
      expect(n).toBe(before + 1);
      const creds = { accessKeyId: `AKID${n}`, secretAccessKey: `secret-${n}`, sessionToken: `token-${n}` };
      expect(signed.authorization).toBe(await referenceAuthorization(r, signed, creds, 'us-east-1', when));
    }
    // The same key and day twice: the derived key is reused, and the signature is still the reference's.
    const fixed = { accessKeyId: 'AKID', secretAccessKey: 'fixed' };
    const once = new SigV4Signer('us-east-1', 'kinesis', fixed);
    const first = await once.sign(r, at);
    const second = await once.sign(r, at);
    expect(second.authorization).toBe(first.authorization);
    expect(second.authorization).toBe(await referenceAuthorization(r, second, fixed, 'us-east-1', at));
  });
});
