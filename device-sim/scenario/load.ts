/**
 * Loads a scenario: YAML -> zod -> whole-document checks (profiles exist,
 * fields they read exist, ids unique, fault filters name real fleets, replay
 * files readable with the named column). Every problem comes back at once in a
 * ScenarioError, each with its path, e.g. `fleets[1].interval: expected a
 * duration such as "250ms", ...`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { checkAnomalies } from '../anomalies/plan.js';
import type { ReplayLookup, Value } from '../model/generators.js';
import { csvColumn } from './csv.js';
import { ScenarioError, problemsFromZod, type ScenarioProblem } from './errors.js';
import { expandFleets, fleetName } from './fleet.js';
import { replaysIn } from './resolve-fields.js';
import { scenarioSchema, type ScenarioDoc } from './schema.js';

export interface Scenario {
  /** File name (or a label for documents built in code), used in messages. */
  source: string;
  /** Relative paths in the scenario (replay CSVs, TLS files) are relative to this directory. */
  baseDir: string;
  doc: ScenarioDoc;
  replay: ReplayLookup;
}

function checkFaultFilters(doc: ScenarioDoc, problems: ScenarioProblem[]): void {
  const names = new Set(doc.fleets.map(fleetName));
  const check = (fleets: string[] | undefined, at: string): void => {
    fleets?.forEach((n, i) => {
      if (!names.has(n)) problems.push({ path: `${at}.fleets[${i}]`, message: `no fleet is named "${n}"; fleets: ${[...names].join(', ')}` });
    });
  };
  const f = doc.faults;
  if (!f) return;
  f.bursts?.forEach((b, i) => check(b.fleets, `faults.bursts[${i}]`));
  for (const key of ['malformed', 'oversize', 'duplicates', 'reboots', 'clockSkew'] as const) check(f[key]?.fleets, `faults.${key}`);
  if (doc.transport?.serial && f.disconnects?.length) {
    problems.push({ path: 'faults.disconnects', message: 'disconnect storms apply to MQTT connections; a serial port has none (remove them or use transport.mqtt)' });
  }
  if (doc.transport?.mqtt && f.noise) {
    problems.push({ path: 'faults.noise', message: 'line noise applies to serial ports only (use faults.malformed for bad MQTT payloads)' });
  }
}

function loadReplays(doc: ScenarioDoc, baseDir: string, problems: ScenarioProblem[]): Map<string, readonly Value[]> {
  const found = [
    ...Object.entries(doc.profiles ?? {}).flatMap(([name, p]) => replaysIn(p.fields, (f) => `profiles.${name}.fields.${f}`)),
    ...doc.fleets.flatMap((fl, i) => replaysIn(fl.fields ?? {}, (f) => `fleets[${i}].fields.${f}`)),
  ];
  const texts = new Map<string, string | Error>();
  const columns = new Map<string, readonly Value[]>();
  for (const r of found) {
    const file = path.resolve(baseDir, r.file);
    if (!texts.has(file)) {
      try {
        texts.set(file, readFileSync(file, 'utf8'));
      } catch (err) {
        texts.set(file, err as Error);
      }
    }
    const text = texts.get(file) as string | Error;
    if (text instanceof Error) {
      problems.push({ path: `${r.path}.file`, message: `cannot read ${file}: ${text.message} (paths are relative to the scenario file)` });
      continue;
    }
    const col = csvColumn(text, r.column);
    if ('problem' in col) problems.push({ path: `${r.path}.column`, message: `${file}: ${col.problem}` });
    else columns.set(`${r.file}\u0000${r.column}`, col.values);
  }
  return columns;
}

/** Validates a parsed document; `baseDir` resolves relative paths inside it. */
export function parseScenario(input: unknown, source = 'scenario', baseDir = process.cwd()): Scenario {
  const parsed = scenarioSchema.safeParse(input ?? {});
  if (!parsed.success) throw new ScenarioError(source, problemsFromZod(parsed.error.issues));
  const doc = parsed.data;
  const problems: ScenarioProblem[] = [];
  const devices = expandFleets(doc.fleets, doc.profiles ?? {}, {}, problems);
  checkFaultFilters(doc, problems);
  if (doc.anomalies) checkAnomalies(doc.anomalies, devices, doc.fleets.map(fleetName), problems);
  const columns = loadReplays(doc, baseDir, problems);
  if (problems.length > 0) throw new ScenarioError(source, problems);
  const replay: ReplayLookup = (file, column) => {
    const values = columns.get(`${file}\u0000${column}`);
    if (!values) throw new Error(`replay ${file}#${column} was not loaded`); // the checks above make this unreachable
    return values;
  };
  return { source, baseDir, doc, replay };
}

export function loadScenarioFile(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(file, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    // yaml repeats the position in its message, with a colon before a code excerpt: keep the reason only.
    const reason = ((err as Error).message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new ScenarioError(file, [{ path: '', message: `not valid YAML${where}: ${reason}` }]);
  }
  return parseScenario(doc, file, path.dirname(path.resolve(file)));
}
