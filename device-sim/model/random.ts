/**
 * Seeded randomness. Every consumer (a device's field, its jitter, its faults)
 * gets its own stream derived from the run seed and a name, so adding a field
 * or enabling a fault never changes the numbers another part draws: runs with
 * the same --seed replay identically, and diffs between runs stay local.
 */

export type Rng = () => number;

/** mulberry32: tiny, fast, good enough for plausible sensor noise; not for crypto. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** An independent stream for (run seed, name parts), e.g. rngFor(42, 'th-001', 'temperature'). */
export function rngFor(seed: number, ...parts: string[]): Rng {
  return mulberry32(hashString(parts.join('\u0000'), seed));
}

/** Standard normal draw (Box-Muller); 1 - u keeps log() away from 0. */
export function gaussian(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Uniform in [-1, 1). */
export function symmetric(rng: Rng): number {
  return rng() * 2 - 1;
}

/** 8 hex characters, deterministic for the inputs: used for boot ids. */
export function hex32(seed: number, ...parts: string[]): string {
  return hashString(parts.join('\u0000'), hashString(String(seed))).toString(16).padStart(8, '0');
}
