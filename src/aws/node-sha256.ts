import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

/** What the signer hands over: text, or bytes in any of their JavaScript forms (`SourceData` of @smithy/types). */
type Source = string | ArrayBuffer | ArrayBufferView;

/**
 * SHA-256, and HMAC-SHA-256 when constructed with a secret, in the shape the SDK's SigV4 signer takes
 * (`ChecksumConstructor` of @smithy/types), on Node's own crypto, as the SDK's Node hash is. Lets the direct
 * Kinesis port sign without an SDK client's config to borrow the hash from.
 */
export class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: Source) {
    this.hash = this.fresh();
  }

  update(data: Source): void {
    this.hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
}

function bytes(data: Source): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
