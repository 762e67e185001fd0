/**
 * Places anomaly episodes: which devices get which anomaly, when and how big.
 * Every draw comes from a stream named after (seed, device, entry), so the same
 * seed gives the same episodes, and adding an entry or a device never moves
 * another device's episodes. Times are offsets from the start of the run, on
 * the engine's nominal schedule (not the wall clock), so whether a reading
 * falls inside an episode does not depend on how busy the machine is.
 */
import type { GeneratorSpec } from '../scenario/schema-generators.js';
import type { ScenarioProblem } from '../scenario/errors.js';
import type { DeviceSpec } from '../scenario/fleet.js';
import type { AnomalyDoc, AnomalyKind } from '../scenario/schema-anomalies.js';
import { ms, ratio } from '../scenario/units.js';
import { rngFor, type Rng } from '../model/random.js';

export interface Episode {
  /** Stable and unique within a run: "<entry>/<deviceId>/<field or *>/<n>". */
  id: string;
  kind: AnomalyKind;
  /** null: the whole device (dropout). */
  field: string | null;
  /** Offset from the start of the run (ms). */
  startMs: number;
  /** Exclusive end offset; a spike ends after `readings` readings instead. */
  endMs: number;
  readings: number;
  /** spike/step: offset; drift: offset reached at the end; noise: standard deviation; stuck/dropout: 0. */
  magnitude: number;
  /** noise with a factor: the variance around the field's recent mean is multiplied by it. */
  factor?: number;
}

/** A device id pattern where "*" matches any run of characters. */
export function globRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Patterns match the id as the scenario writes it, without --device-prefix. */
function selects(a: AnomalyDoc, d: DeviceSpec, fleetNames: readonly string[], patterns: RegExp[] | undefined, prefix = ''): boolean {
  if (a.fleets && !a.fleets.includes(fleetNames[d.fleet] as string)) return false;
  const id = prefix && d.deviceId.startsWith(prefix) ? d.deviceId.slice(prefix.length) : d.deviceId;
  return !patterns || patterns.some((p) => p.test(id));
}

/**
 * Whole-document checks (the loader's): fleets exist, each entry selects at
 * least one device, and every selected device computes and sends the field as
 * a number.
 */
export function checkAnomalies(docs: readonly AnomalyDoc[], devices: readonly DeviceSpec[], fleetNames: readonly string[], problems: ScenarioProblem[]): void {
  docs.forEach((a, i) => {
    const at = `anomalies[${i}]`;
    const unknown = (a.fleets ?? []).filter((n) => !fleetNames.includes(n));
    unknown.forEach((n) => problems.push({ path: `${at}.fleets`, message: `no fleet is named "${n}"; fleets: ${fleetNames.join(', ')}` }));
    if (unknown.length) return;
    const patterns = a.devices?.map(globRegExp);
    const chosen = devices.filter((d) => selects(a, d, fleetNames, patterns));
    if (chosen.length === 0) {
      problems.push({ path: a.devices ? `${at}.devices` : `${at}.fleets`, message: 'selects no device; check the fleet names and id patterns ("*" matches any characters)' });
      return;
    }
    if (a.field === undefined) return;
    const without = chosen.find((d) => !d.fieldSet.emitted.includes(a.field as string));
    if (without) {
      problems.push({ path: `${at}.field`, message: `device ${without.deviceId} does not send "${a.field}" (it sends ${without.fieldSet.emitted.join(', ')}); narrow fleets/devices or pick one of those` });
      return;
    }
    const spec = chosen[0]?.fieldSet.fields[a.field] as GeneratorSpec;
    if (spec.type === 'toggle' || (spec.type === 'constant' && typeof spec.value !== 'number')) {
      problems.push({ path: `${at}.field`, message: `"${a.field}" is not numeric (${spec.type}); anomalies change numeric values` });
    }
  });
}

function magnitudeOf(a: AnomalyDoc, rng: Rng): number {
  if (a.magnitude === undefined) return 0;
  if (typeof a.magnitude === 'number') return a.magnitude;
  const [lo, hi] = a.magnitude;
  return lo + rng() * (hi - lo);
}

/** The start range of an entry's episodes, or a problem when the run length is needed but unknown. */
function startRange(a: AnomalyDoc, lengthMs: number, runMs: number, at: string, problems: string[]): [number, number] | null {
  if (a.at !== undefined) return [ms(a.at), ms(a.at)];
  if (a.within !== undefined) {
    const [from, to] = [ms(a.within[0]), ms(a.within[1])];
    if (to <= from) {
      problems.push(`${at}.within: [from, to] needs from < to (got [${String(a.within[0])}, ${String(a.within[1])}])`);
      return null;
    }
    return [from, to];
  }
  if (!Number.isFinite(runMs)) {
    problems.push(`${at}: without at or within, episodes are placed anywhere in the run, which needs a duration (run.duration or --duration); or give within: [from, to]`);
    return null;
  }
  if (runMs - lengthMs <= 0) {
    problems.push(`${at}.duration: ${lengthMs} ms does not fit in a ${runMs} ms run; shorten it or lengthen the run`);
    return null;
  }
  return [0, runMs - lengthMs];
}

/**
 * Episodes per device index (only devices that have some). Problems are
 * option-level strings, since they may depend on --duration.
 */
export function placeEpisodes(
  docs: readonly AnomalyDoc[],
  devices: readonly DeviceSpec[],
  fleetNames: readonly string[],
  seed: number,
  runMs: number,
  problems: string[],
  prefix = '',
): Map<number, Episode[]> {
  const out = new Map<number, Episode[]>();
  docs.forEach((a, i) => {
    const at = `anomalies[${i}]`;
    const lengthMs = a.duration === undefined ? 0 : ms(a.duration);
    const range = startRange(a, lengthMs, runMs, at, problems);
    if (!range) return;
    const slot = (range[1] - range[0]) / a.count;
    if (a.count > 1 && lengthMs > slot) {
      problems.push(`${at}: ${a.count} episodes of ${lengthMs} ms would overlap in a ${range[1] - range[0]} ms range (each gets a ${Math.floor(slot)} ms slot); lower count or duration, or widen within`);
      return;
    }
    const share = a.share === undefined ? 1 : ratio(a.share);
    const patterns = a.devices?.map(globRegExp);
    for (const d of devices) {
      if (!selects(a, d, fleetNames, patterns, prefix)) continue;
      const rng = rngFor(seed, d.deviceId, 'anomaly', String(i));
      if (share < 1 && rng() >= share) continue;
      const list = out.get(d.index) ?? [];
      for (let n = 0; n < a.count; n++) {
        const startMs = a.at !== undefined ? range[0] : range[0] + n * slot + rng() * slot;
        list.push({
          id: `${i}/${d.deviceId}/${a.field ?? '*'}/${n + 1}`,
          kind: a.kind,
          field: a.field ?? null,
          startMs,
          endMs: a.kind === 'spike' ? Infinity : startMs + lengthMs,
          readings: a.kind === 'spike' ? (a.readings ?? 1) : Infinity,
          magnitude: magnitudeOf(a, rng),
          ...(a.factor !== undefined ? { factor: a.factor } : {}),
        });
      }
      out.set(d.index, list);
    }
  });
  for (const list of out.values()) list.sort((x, y) => x.startMs - y.startMs);
  return out;
}
