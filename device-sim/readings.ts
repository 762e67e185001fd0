/**
 * Deterministic telemetry payloads for simulated devices.
 *
 * Values are a daily-cycle sine (time of day taken from the reading's own `ts`,
 * in UTC so runs replay identically on any machine) plus a mean-reverting,
 * seeded random walk. Same seed + same device id + same timestamps => same
 * readings, which is what tests and replayed benchmark runs rely on.
 */

export type DeviceKind = 'th' | 'co2' | 'occ';

/** Kinds cycle in this order over device indexes: th-, co2-, occ-, th-, ... */
export const DEVICE_KINDS: readonly DeviceKind[] = ['th', 'co2', 'occ'];

export interface Reading {
  seq: number;
  ts: number;
  temperature?: number;
  humidity?: number;
  co2?: number;
  occupancy?: number;
}

export function kindForIndex(index: number): DeviceKind {
  return DEVICE_KINDS[index % DEVICE_KINDS.length] as DeviceKind;
}

/**
 * Device ids are `<prefix><kind>-<n>` with n 1-based and zero-padded to a width
 * that fits the fleet, so ids sort naturally in dashboards and ledgers.
 */
export function deviceIdFor(index: number, deviceCount: number, prefix = ''): string {
  const width = Math.max(4, String(deviceCount).length);
  return `${prefix}${kindForIndex(index)}-${String(index + 1).padStart(width, '0')}`;
}

/** mulberry32: tiny, fast, good enough for plausible sensor noise; not for crypto. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, used to give every device its own PRNG stream derived from the run seed. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const DAY_MS = 86_400_000;
const round1 = (v: number): number => Math.round(v * 10) / 10;
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Position in the day as a sine: +1 at `peakHour` UTC, -1 twelve hours later. */
function dailyWave(ts: number, peakHour: number): number {
  const dayFraction = (((ts % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
  return Math.cos(2 * Math.PI * (dayFraction - peakHour / 24));
}

/** Office-hours bump: 0 at night, rising to 1 around 13:00 UTC. */
function occupancyWave(ts: number): number {
  return Math.max(0, dailyWave(ts, 13) * 1.6 - 0.6);
}

export class DeviceReadings {
  readonly kind: DeviceKind;
  private seq = 0;
  private readonly rand: () => number;
  // Per-device personality so a fleet does not report identical curves.
  private readonly base: number;
  private readonly base2: number;
  private walk = 0;
  private walk2 = 0;

  constructor(readonly deviceId: string, kind: DeviceKind, seed: number) {
    this.kind = kind;
    this.rand = mulberry32(hashString(deviceId, seed));
    this.base = this.rand();
    this.base2 = this.rand();
  }

  /** Mean-reverting step so values wander but never drift off to implausible levels. */
  private step(current: number, size: number): number {
    return current * 0.98 + (this.rand() - 0.5) * size;
  }

  next(ts: number): Reading {
    this.seq += 1;
    const reading: Reading = { seq: this.seq, ts };
    switch (this.kind) {
      case 'th': {
        this.walk = this.step(this.walk, 0.3);
        this.walk2 = this.step(this.walk2, 1.0);
        const temp = 20 + this.base * 3 + 1.5 * dailyWave(ts, 15) + this.walk;
        // Indoor humidity runs opposite to temperature over the day.
        const hum = 40 + this.base2 * 15 - 5 * dailyWave(ts, 15) + this.walk2;
        reading.temperature = round1(clamp(temp, 10, 35));
        reading.humidity = round1(clamp(hum, 15, 85));
        break;
      }
      case 'co2': {
        this.walk = this.step(this.walk, 20);
        const ppm = 420 + this.base * 80 + 500 * occupancyWave(ts) + this.walk;
        reading.co2 = Math.round(clamp(ppm, 400, 2500));
        break;
      }
      case 'occ': {
        this.walk = this.step(this.walk, 0.8);
        const people = (2 + this.base * 10) * occupancyWave(ts) + this.walk;
        reading.occupancy = Math.max(0, Math.round(people));
        break;
      }
    }
    return reading;
  }
}

export function createDeviceReadings(index: number, deviceCount: number, seed: number, prefix = ''): DeviceReadings {
  return new DeviceReadings(deviceIdFor(index, deviceCount, prefix), kindForIndex(index), seed);
}

const PAD_PREFIX = ',"pad":"';
let padSource = '';

/**
 * Serialises a reading. With payloadBytes > 0 a `pad` string field is added so
 * the JSON is exactly payloadBytes long (payloads are ASCII, so chars == bytes);
 * when the reading alone is already longer, it is sent unpadded.
 */
export function encodeReading(reading: Reading, payloadBytes = 0): string {
  const json = JSON.stringify(reading);
  if (payloadBytes <= 0) return json;
  const padLen = payloadBytes - json.length - PAD_PREFIX.length - 1;
  if (padLen < 0) return json;
  // Slicing a cached string avoids allocating a fresh repeat() per reading.
  if (padSource.length < padLen) padSource = 'x'.repeat(Math.max(padLen, 1024));
  return `${json.slice(0, -1)}${PAD_PREFIX}${padSource.slice(0, padLen)}"}`;
}
