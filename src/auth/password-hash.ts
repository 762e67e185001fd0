import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Salted scrypt password hashes in the PHC string format: `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (base64
 * without padding). The cost parameters travel with each hash, so they can be raised later: old hashes
 * keep verifying with their own parameters, and `tidegate passwd add` writes new ones with the current.
 * scrypt runs on libuv's thread pool (the async API), so a verification never blocks the event loop.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/** N = 2^14, r = 8: 16 MiB and some tens of ms per hash on a Raspberry Pi 4 (the scrypt paper's interactive setting). */
export const DEFAULT_PARAMS: ScryptParams = { ln: 14, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for parameters read from a file: a hand-edited ln=30 must not tie up gigabytes per login.
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: Buffer, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  // Node refuses scrypt when 128 * N * r exceeds maxmem (32 MiB by default): give it what the parameters need.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: Buffer, params: ScryptParams = DEFAULT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, KEY_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Parses a stored hash; returns a message saying what is wrong instead of throwing. */
export function parseHash(text: string): ParsedHash | string {
  const parts = text.split('$');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return 'not a $scrypt$ln=..,r=..,p=..$salt$hash string';
  const params: Partial<ScryptParams> = {};
  for (const item of parts[2]!.split(',')) {
    const m = /^(ln|r|p)=(\d{1,3})$/.exec(item);
    if (!m) return `unknown scrypt parameter "${item}"`;
    const key = m[1] as keyof ScryptParams;
    const value = Number(m[2]);
    const [min, max] = LIMITS[key];
    if (value < min || value > max) return `scrypt parameter ${key}=${value} is outside ${min}..${max}`;
    params[key] = value;
  }
  if (params.ln === undefined || params.r === undefined || params.p === undefined) return 'scrypt parameters ln, r and p are all required';
  const salt = Buffer.from(parts[3]!, 'base64url');
  const hash = Buffer.from(parts[4]!, 'base64url');
  if (salt.length < 8) return 'salt shorter than 8 bytes';
  if (hash.length < 16 || hash.length > 64) return 'hash must be 16 to 64 bytes';
  return { params: params as ScryptParams, salt, hash };
}

/** Constant-time comparison of the derived key (crypto.timingSafeEqual). */
export async function verifyPassword(password: Buffer, stored: ParsedHash): Promise<boolean> {
  const candidate = await derive(password, stored.salt, stored.params, stored.hash.length);
  return timingSafeEqual(candidate, stored.hash);
}
