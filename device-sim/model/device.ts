/**
 * One simulated device: its field generators, sequence number, boot id and
 * clock. A reboot starts a new boot (new id, seq from 1) but keeps physical
 * state such as an energy meter's count, like real hardware. Randomness comes
 * from per-device streams, so device 7's readings do not change when the
 * fleet grows or another device reboots.
 */
import type { DeviceSpec } from '../scenario/fleet.js';
import type { GeneratorSpec } from '../scenario/schema-generators.js';
import { buildGenerator, type Generator, type ReplayLookup, type Value } from './generators.js';
import { hashString, hex32, rngFor, symmetric } from './random.js';

export interface ClockSkew {
  maxMs: number;
  driftPpm: number;
}

export class SimDevice {
  readonly deviceId: string;
  seq = 0;
  bootIndex = 0;
  boot: string;
  private readonly gens: Generator[];
  private readonly names: string[];
  private readonly emit: boolean[];
  private readonly allEmitted: boolean;
  private readonly offsetMs: number;
  private readonly drift: number;

  constructor(
    readonly spec: DeviceSpec,
    private readonly seed: number,
    replay: ReplayLookup,
    skew: ClockSkew | undefined,
  ) {
    this.deviceId = spec.deviceId;
    const { fields, order } = spec.fieldSet;
    this.names = order;
    this.emit = order.map((f) => (fields[f] as GeneratorSpec).emit !== false);
    this.allEmitted = this.emit.every(Boolean);
    const deviceHash = hashString(this.deviceId, seed);
    this.gens = order.map((f) => buildGenerator(fields[f] as GeneratorSpec, { rng: rngFor(seed, this.deviceId, f), deviceHash, replay }));
    if (skew) {
      const r = rngFor(seed, this.deviceId, 'clock');
      this.offsetMs = Math.round(symmetric(r) * skew.maxMs);
      this.drift = (symmetric(r) * skew.driftPpm) / 1e6;
    } else {
      this.offsetMs = 0;
      this.drift = 0;
    }
    this.boot = hex32(seed, this.deviceId, '0');
  }

  /** The device's own clock: wall time plus its offset and accumulated drift since the run started. */
  clock(wallMs: number, runStartWallMs: number): number {
    return this.offsetMs === 0 && this.drift === 0 ? wallMs : Math.round(wallMs + this.offsetMs + (wallMs - runStartWallMs) * this.drift);
  }

  /** Next seq and the emitted values for device time `ts`. */
  next(ts: number): Record<string, Value> {
    this.seq += 1;
    const all: Record<string, Value> = {};
    const ctx = { ts, values: all };
    for (let i = 0; i < this.gens.length; i++) all[this.names[i] as string] = (this.gens[i] as Generator).next(ctx);
    if (this.allEmitted) return all; // the common case: one object per reading, not two
    const out: Record<string, Value> = {};
    for (let i = 0; i < this.names.length; i++) if (this.emit[i]) out[this.names[i] as string] = all[this.names[i] as string] as Value;
    return out;
  }

  reboot(): void {
    this.bootIndex += 1;
    this.seq = 0;
    this.boot = hex32(this.seed, this.deviceId, String(this.bootIndex));
  }
}
