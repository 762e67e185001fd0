/**
 * Fault settings as the engine uses them: ratios as numbers, durations in ms,
 * fleet filters as fleet indexes. Built from a scenario's `faults` section.
 */
import { MALFORMED_KINDS, type FaultsDoc, type MalformedKind } from '../scenario/schema.js';
import { ms, ratio } from '../scenario/units.js';
import { BurstSchedule } from './bursts.js';

type Fleets = ReadonlySet<number> | undefined;

export interface StormPlan {
  atMs: number;
  everyMs: number | undefined;
  times: number;
  fraction: number;
}

export interface FaultSettings {
  bursts: BurstSchedule;
  malformed: { ratio: number; kinds: readonly MalformedKind[]; fleets: Fleets } | undefined;
  oversize: { ratio: number; bytes: number; fleets: Fleets } | undefined;
  duplicates: { ratio: number; fleets: Fleets } | undefined;
  reboots: { ratio: number; downtimeMs: number; fleets: Fleets } | undefined;
  clockSkew: { maxMs: number; driftPpm: number; fleets: Fleets } | undefined;
  storms: StormPlan[];
  noise: { ratio: number; bytes: number } | undefined;
}

export const NO_FAULTS: FaultSettings = {
  bursts: new BurstSchedule([]),
  malformed: undefined,
  oversize: undefined,
  duplicates: undefined,
  reboots: undefined,
  clockSkew: undefined,
  storms: [],
  noise: undefined,
};

export function appliesTo(fleets: Fleets, fleet: number): boolean {
  return fleets === undefined || fleets.has(fleet);
}

export function resolveFaults(doc: FaultsDoc | undefined, fleetNames: readonly string[]): FaultSettings {
  if (!doc) return NO_FAULTS;
  const fleets = (names: string[] | undefined): Fleets => (names ? new Set(names.map((n) => fleetNames.indexOf(n))) : undefined);
  return {
    bursts: new BurstSchedule(
      (doc.bursts ?? []).map((b) => ({
        atMs: ms(b.at),
        durationMs: ms(b.duration),
        factor: b.factor,
        everyMs: b.every === undefined ? undefined : ms(b.every),
        fleets: fleets(b.fleets),
      })),
    ),
    malformed: doc.malformed && { ratio: ratio(doc.malformed.ratio), kinds: doc.malformed.kinds ?? MALFORMED_KINDS, fleets: fleets(doc.malformed.fleets) },
    oversize: doc.oversize && { ratio: ratio(doc.oversize.ratio), bytes: doc.oversize.bytes, fleets: fleets(doc.oversize.fleets) },
    duplicates: doc.duplicates && { ratio: ratio(doc.duplicates.ratio), fleets: fleets(doc.duplicates.fleets) },
    reboots: doc.reboots && { ratio: ratio(doc.reboots.ratio), downtimeMs: ms(doc.reboots.downtime), fleets: fleets(doc.reboots.fleets) },
    clockSkew: doc.clockSkew && { maxMs: ms(doc.clockSkew.max), driftPpm: doc.clockSkew.driftPpm, fleets: fleets(doc.clockSkew.fleets) },
    storms: (doc.disconnects ?? []).map((d) => ({
      atMs: ms(d.at),
      everyMs: d.every === undefined ? undefined : ms(d.every),
      times: d.every === undefined ? 1 : (d.times ?? Number.MAX_SAFE_INTEGER),
      fraction: ratio(d.fraction),
    })),
    noise: doc.noise && { ratio: ratio(doc.noise.ratio), bytes: doc.noise.bytes },
  };
}
