import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { loadConfig } from '../../src/config/load.js';
import { loadScenarioFile } from '../../device-sim/scenario/load.js';
import type { DetectConfig } from '../../src/analytics/alarms/schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every property path a JSON Schema declares, e.g. `kinesis.batch.maxRecords`, `mqtt.listeners[].port`. */
function schemaPaths(schema: Record<string, any>, prefix = ''): string[] {
  const out: string[] = [];
  const node = schema.type === 'array' ? schema.items : schema;
  const base = schema.type === 'array' ? `${prefix}[]` : prefix;
  for (const [key, child] of Object.entries<Record<string, any>>(node?.properties ?? {})) {
    const here = base ? `${base}.${key}` : key;
    out.push(here);
    out.push(...schemaPaths(child, here));
  }
  // A list whose entries take one of several shapes (transforms[]): the keys of every shape.
  for (const alternative of node?.anyOf ?? []) out.push(...schemaPaths({ type: 'object', ...alternative }, base).filter((p) => !out.includes(p)));
  return out;
}

describe('config files', () => {
  it('the annotated example is a valid config and mentions every key of the schema', async () => {
    const file = path.join(root, 'config/tidegate.example.yaml');
    await expect(loadConfig(file, {})).resolves.toBeTruthy();
    // Commented-out keys (optional ones shown with an example value) count as documented, also as the
    // first key of a commented-out list entry (`# - name: ...`).
    const text = await readFile(file, 'utf8');
    // Commented-out blocks keep their indentation after "# ", list items included.
    const uncommented = text.replace(/^(\s*)# (\s*(?:- )?\w+:)/gm, '$1$2');
    const doc = parseDocument(uncommented).toJS() as Record<string, unknown>;
    const documented = new Set(schemaPaths({ type: 'object', properties: toSchemaShape(doc) }));
    const missing = schemaPaths(configJsonSchema()).filter((p) => !documented.has(p));
    expect(missing).toEqual([]);
  });
});

/** Turns a parsed YAML document into the `properties` shape schemaPaths walks. */
function toSchemaShape(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    // Every item of a list counts (examples show different optional keys on different items).
    if (Array.isArray(value)) out[key] = { type: 'array', items: { properties: value.map((item) => toSchemaShape((item ?? {}) as Record<string, unknown>)).reduce(mergeShapes, {}) } };
    else if (value && typeof value === 'object') out[key] = { properties: toSchemaShape(value as Record<string, unknown>) };
    else out[key] = {};
  }
  return out;
}

/** Merges two `properties` shapes, recursively. */
function mergeShapes(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const left = out[key] as { properties?: Record<string, unknown> } | undefined;
    const right = value as { properties?: Record<string, unknown> };
    out[key] = left?.properties && right.properties ? { ...right, properties: mergeShapes(left.properties, right.properties) } : value;
  }
  return out;
}

describe('shipped example configs', () => {
  const examplesDir = path.join(root, 'config/examples');

  it('each one loads as a valid config', async () => {
    const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['anomaly-detection.yaml', 'industrial-line.yaml', 'smart-building.yaml']));
    for (const file of files) await expect(loadConfig(path.join(examplesDir, file), {}), file).resolves.toBeTruthy();
  });

  it('anomaly-detection watches every field its scenario injects anomalies into, with one rule per field, and a silence rule for dropouts', async () => {
    const config = await loadConfig(path.join(examplesDir, 'anomaly-detection.yaml'), {});
    const scenario = loadScenarioFile(path.join(root, 'device-sim/scenarios/anomaly-detection.yaml'));
    // Registry entries are typed generically; a `detect` entry has the detect schema's shape.
    const detects = config.transforms.filter((t) => t.type === 'detect') as unknown as DetectConfig[];
    const injected = scenario.doc.anomalies ?? [];
    for (const a of injected) {
      const watching = detects.filter((d) => (a.kind === 'dropout' ? d.detector.kind === 'missing' && d.field === undefined : d.field === a.field));
      // One rule per field: two rules on one field would raise twice per episode (a flap in the audit's score).
      expect(watching.map((d) => d.rule), `${a.kind} ${a.field ?? '(device)'}`).toHaveLength(1);
    }
    expect(detects.map((d) => d.detector.kind).sort()).toEqual(['ewma', 'flatline', 'missing', 'rate', 'threshold']);
    // The fields watched are the fields the scenario's devices send.
    const sent = Object.keys(scenario.doc.profiles?.tank?.fields ?? {});
    for (const d of detects) if (d.field !== undefined) expect(sent).toContain(d.field);
  });
});
