/**
 * Turns a profile name plus a fleet's extra fields into the concrete field set
 * a device computes: profile inheritance (`extends`), overrides, and an order
 * in which every field comes after the fields it reads (follow, counter).
 * Problems name the key where the offending field was written.
 */
import { dependenciesOf } from '../model/generators.js';
import { BUILTIN_PROFILES } from '../model/profiles.js';
import type { ScenarioProblem } from './errors.js';
import type { FieldsSpec, GeneratorSpec } from './schema-generators.js';
import type { ProfileDoc } from './schema.js';

export interface FieldSet {
  /** Profile name (undefined for a fleet with fields only). */
  profile: string | undefined;
  fields: FieldsSpec;
  /** Computation order: dependencies first. */
  order: string[];
  /** Fields sent in each reading, in `order`. */
  emitted: string[];
}

type Origins = Record<string, string>;

function profileFields(
  name: string,
  custom: Record<string, ProfileDoc>,
  path: string,
  seen: string[],
  problems: ScenarioProblem[],
): { fields: FieldsSpec; origins: Origins } | null {
  const doc = custom[name] ?? BUILTIN_PROFILES[name];
  if (!doc) {
    const known = [...Object.keys(custom), ...Object.keys(BUILTIN_PROFILES)].filter((v, i, a) => a.indexOf(v) === i);
    problems.push({ path, message: `unknown profile "${name}"; known profiles: ${known.join(', ')}` });
    return null;
  }
  const where = custom[name] ? `profiles.${name}` : `built-in profile "${name}"`;
  if (seen.includes(name)) {
    problems.push({ path: `${where}.extends`, message: `profiles extend each other in a cycle: ${[...seen, name].join(' -> ')}` });
    return null;
  }
  let fields: FieldsSpec = {};
  let origins: Origins = {};
  if (doc.extends) {
    const parent = profileFields(doc.extends, custom, `${where}.extends`, [...seen, name], problems);
    if (!parent) return null;
    fields = { ...parent.fields };
    origins = { ...parent.origins };
  }
  for (const [f, spec] of Object.entries(doc.fields)) {
    fields[f] = spec;
    origins[f] = `${where}.fields.${f}`;
  }
  return { fields, origins };
}

/** Orders fields so dependencies come first; reports unknown references and cycles at their origin. */
function orderFields(fields: FieldsSpec, origins: Origins, problems: ScenarioProblem[]): string[] | null {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  let ok = true;
  const visit = (name: string, chain: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      problems.push({ path: origins[name] ?? name, message: `fields depend on each other in a cycle: ${[...chain, name].join(' -> ')}` });
      ok = false;
      return;
    }
    state.set(name, 'visiting');
    for (const dep of dependenciesOf(fields[name] as GeneratorSpec)) {
      if (!(dep in fields)) {
        problems.push({ path: origins[name] ?? name, message: `reads field "${dep}", which this device does not have; fields: ${Object.keys(fields).join(', ')}` });
        ok = false;
        continue;
      }
      visit(dep, [...chain, name]);
    }
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(fields)) visit(name, []);
  return ok ? order : null;
}

/**
 * The field set of one device kind. `fleetPath` is where the fleet is written
 * (e.g. "fleets[2]"), for messages about its profile and fields.
 */
export function resolveFieldSet(
  profile: string | undefined,
  extra: FieldsSpec | undefined,
  custom: Record<string, ProfileDoc>,
  fleetPath: string,
  problems: ScenarioProblem[],
): FieldSet | null {
  let fields: FieldsSpec = {};
  let origins: Origins = {};
  if (profile !== undefined) {
    const base = profileFields(profile, custom, `${fleetPath}.profile`, [], problems);
    if (!base) return null;
    ({ fields, origins } = base);
    fields = { ...fields };
  }
  for (const [f, spec] of Object.entries(extra ?? {})) {
    fields[f] = spec;
    origins[f] = `${fleetPath}.fields.${f}`;
  }
  const order = orderFields(fields, origins, problems);
  if (!order) return null;
  const emitted = order.filter((f) => (fields[f] as GeneratorSpec).emit !== false);
  if (emitted.length === 0) {
    problems.push({ path: fleetPath, message: 'every field has emit: false, so readings would carry no values (the gateway rejects those as no_values)' });
    return null;
  }
  return { profile, fields, order, emitted };
}

/** Every replay generator (also inside sums) with the key where it is written. */
export function replaysIn(fields: FieldsSpec, origin: (field: string) => string): Array<{ file: string; column: string; path: string }> {
  const out: Array<{ file: string; column: string; path: string }> = [];
  const walk = (spec: GeneratorSpec, path: string): void => {
    if (spec.type === 'replay') out.push({ file: spec.file, column: spec.column, path });
    if (spec.type === 'sum') spec.of.forEach((s, i) => walk(s, `${path}.of[${i}]`));
  };
  for (const [name, spec] of Object.entries(fields)) walk(spec, origin(name));
  return out;
}
