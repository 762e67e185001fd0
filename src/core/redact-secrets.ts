/**
 * Keys whose values are secrets wherever they appear in a logged object: MQTT passwords, AWS secret keys
 * and session tokens, private keys, HTTP Authorization headers.
 */
const SECRET_KEY = /^(password|passphrase|secretAccessKey|sessionToken|privateKey|authorization|x-amz-security-token)$/i;
export const REDACTED = '[redacted]';
// A config object is a few levels deep; deeper structures are not walked (and are not logged by tidegate).
const MAX_DEPTH = 8;

/**
 * Returns `value` with every secret-named key's value replaced, at any depth (pino's own redact paths
 * need every path spelled out, and a config logged whole nests passwords at depths no path foresaw).
 * Plain objects and arrays are copied only where something is replaced; other values pass through as they are.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    value.forEach((item, i) => {
      const next = redactSecrets(item, depth + 1);
      if (next !== item) (copy ??= [...value])[i] = next;
    });
    return (copy ?? value) as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | null = null;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const next = SECRET_KEY.test(key) && item !== undefined && item !== null ? REDACTED : redactSecrets(item, depth + 1);
    if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = next;
  }
  return (copy ?? value) as T;
}
