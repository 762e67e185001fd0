/**
 * Expands fleets ("th-{i:03}" × 50, profile th, every 10 s) into one spec per
 * device: id, field set, interval, jitter and a start phase that staggers the
 * fleet evenly over one interval (so 50 devices every 10 s send one reading
 * every 200 ms, not 50 at once).
 */
import type { ScenarioProblem } from './errors.js';
import { resolveFieldSet, type FieldSet } from './resolve-fields.js';
import type { FleetDoc, ProfileDoc } from './schema.js';
import { ms, ratio } from './units.js';

export interface DeviceSpec {
  index: number;
  deviceId: string;
  fleet: number;
  fieldSet: FieldSet;
  intervalMs: number;
  jitter: number;
  /** First reading at phase × interval after the start. */
  phase: number;
}

export interface FleetOverrides {
  /** --devices: the device count of a single-fleet scenario. */
  devices?: number;
  /** --rate: readings per second per device, every fleet. */
  ratePerDevice?: number;
  /** --total-rate: scales every fleet's interval so the whole run sends this many per second. */
  totalRate?: number;
  /** --device-prefix. */
  prefix?: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const ID_FORBIDDEN = /[/+#\s\0]/;
const MAX_ID_CHARS = 256; // the Kinesis partition key limit; the gateway uses the device id as the key

type IdPart = string | { kind: 'i'; width: number } | { kind: 'profile' | 'fleet' };

function compileId(pattern: string, path: string, count: number, problems: ScenarioProblem[]): IdPart[] | null {
  const parts: IdPart[] = [];
  let last = 0;
  let hasIndex = false;
  for (const m of pattern.matchAll(PLACEHOLDER)) {
    parts.push(pattern.slice(last, m.index));
    const inner = m[1] as string;
    const idx = /^i(?::0(\d))?$/.exec(inner);
    if (idx) {
      parts.push({ kind: 'i', width: Number(idx[1] ?? 0) });
      hasIndex = true;
    } else if (inner === 'profile' || inner === 'fleet') parts.push({ kind: inner });
    else {
      problems.push({ path, message: `unknown placeholder {${inner}} in "${pattern}"; use {i}, {i:03} (zero-padded), {profile} or {fleet}` });
      return null;
    }
    last = m.index + m[0].length;
  }
  parts.push(pattern.slice(last));
  if (!hasIndex && count > 1) {
    problems.push({ path, message: `all ${count} devices would be called "${pattern}"; add {i} or {i:03} to the pattern` });
    return null;
  }
  return parts;
}

function formatId(parts: IdPart[], i: number, profile: string, fleet: string): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else if (p.kind === 'i') out += String(i).padStart(p.width, '0');
    else out += p.kind === 'profile' ? profile : fleet;
  }
  return out;
}

export function fleetName(fleet: FleetDoc, index: number): string {
  return fleet.name ?? `fleet-${index + 1}`;
}

function intervalOf(fleet: FleetDoc): number {
  if (fleet.interval !== undefined) return ms(fleet.interval);
  if (fleet.rate !== undefined) return 1000 / fleet.rate;
  return 1000;
}

/** All devices of all fleets, or problems with their paths. Ids must be unique across fleets. */
export function expandFleets(
  fleets: readonly FleetDoc[],
  profiles: Record<string, ProfileDoc>,
  overrides: FleetOverrides,
  problems: ScenarioProblem[],
): DeviceSpec[] {
  if (overrides.devices !== undefined && fleets.length > 1) {
    problems.push({ path: 'fleets', message: `--devices sets the size of a single fleet, but this scenario has ${fleets.length} fleets; change fleets[n].count instead` });
    return [];
  }
  const counts = fleets.map((f) => overrides.devices ?? f.count);
  let intervals = fleets.map((f) => (overrides.ratePerDevice !== undefined ? 1000 / overrides.ratePerDevice : intervalOf(f)));
  if (overrides.totalRate !== undefined) {
    const nominal = fleets.reduce((sum, _f, i) => sum + ((counts[i] as number) * 1000) / (intervals[i] as number), 0);
    intervals = intervals.map((iv) => (iv * nominal) / (overrides.totalRate as number));
  }

  const devices: DeviceSpec[] = [];
  const firstUse = new Map<string, string>();
  const names = new Map<string, number>();
  fleets.forEach((fleet, f) => {
    const path = `fleets[${f}]`;
    const name = fleetName(fleet, f);
    if (names.has(name)) problems.push({ path: `${path}.name`, message: `fleet name "${name}" is also used by fleets[${names.get(name)}]` });
    names.set(name, f);
    const count = counts[f] as number;
    const idParts = compileId(fleet.id, `${path}.id`, count, problems);
    const profileList = fleet.profile === undefined ? [undefined] : Array.isArray(fleet.profile) ? fleet.profile : [fleet.profile];
    const sets = profileList.map((p) => resolveFieldSet(p, fleet.fields, profiles, path, problems));
    if (!idParts || sets.some((s) => s === null)) return;
    const jitter = fleet.jitter === undefined ? 0 : ratio(fleet.jitter);
    if (jitter > 0.5) problems.push({ path: `${path}.jitter`, message: `jitter is at most 0.5 (half an interval), so a device's readings stay in order (got ${jitter})` });
    for (let k = 0; k < count; k++) {
      const fieldSet = sets[k % sets.length] as FieldSet;
      const deviceId = `${overrides.prefix ?? ''}${formatId(idParts, fleet.start + k, fieldSet.profile ?? '', name)}`;
      if (k === 0 || k === count - 1) {
        // Checking the first and last id covers the pattern; every id has the same shape.
        if (ID_FORBIDDEN.test(deviceId)) problems.push({ path: `${path}.id`, message: `device id "${deviceId}" contains /, +, #, whitespace or NUL; it is one MQTT topic level` });
        if ([...deviceId].length > MAX_ID_CHARS) problems.push({ path: `${path}.id`, message: `device id "${deviceId.slice(0, 40)}…" is longer than ${MAX_ID_CHARS} characters (the Kinesis partition key limit)` });
      }
      const previous = firstUse.get(deviceId);
      if (previous !== undefined) {
        problems.push({ path: `${path}.id`, message: `device id "${deviceId}" is also produced by ${previous}; ids must be unique (change id, start or count)` });
        return;
      }
      firstUse.set(deviceId, path);
      devices.push({ index: devices.length, deviceId, fleet: f, fieldSet, intervalMs: intervals[f] as number, jitter, phase: k / count });
    }
  });
  return devices;
}
