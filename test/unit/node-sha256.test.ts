import { describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../src/aws/node-sha256.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('NodeSha256 (the direct Kinesis port\'s hash for SigV4)', () => {
  it('hashes text and bytes in every form the signer hands over, in parts as a whole', async () => {
    // FIPS 180-2, appendix B.1: SHA-256("abc").
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    for (const parts of [['abc'], ['a', 'bc'], [Buffer.from('abc')], [new TextEncoder().encode('ab'), new Uint8Array([0x63]).buffer], [new DataView(Buffer.from('xabcx').buffer, Buffer.from('xabcx').byteOffset + 1, 3)]]) {
      const hash = new NodeSha256();
      for (const part of parts) hash.update(part);
      expect(hex(await hash.digest())).toBe(abc);
    }
  });

  it('is HMAC-SHA-256 with a secret, and starts over on reset', async () => {
    // RFC 4231, test case 2.
    const mac = new NodeSha256('Jefe');
    mac.update('ignored before the reset');
    mac.reset();
    mac.update('what do ya want for nothing?');
    expect(hex(await mac.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    const keyed = new NodeSha256(new TextEncoder().encode('Jefe'));
    keyed.update('what do ya want for nothing?');
    expect(hex(await keyed.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
