import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { configReferenceMarkdown } from '../../src/config/reference-doc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Every key a JSON Schema declares, with its path and description (through lists and alternatives). */
function keysOf(node: Record<string, any>, prefix = ''): { path: string; description: unknown }[] {
  const out: { path: string; description: unknown }[] = [];
  for (const [key, child] of Object.entries<Record<string, any>>(node.properties ?? {})) {
    const here = prefix ? `${prefix}.${key}` : key;
    out.push({ path: here, description: child.description }, ...keysOf(child, here));
  }
  if (node.items) out.push(...keysOf(node.items, `${prefix}[]`));
  for (const alternative of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) out.push(...keysOf(alternative, prefix));
  return out;
}

const undescribed = (schema: Record<string, any>): string[] =>
  keysOf(schema)
    .filter((k) => typeof k.description !== 'string' || k.description.trim() === '')
    .map((k) => k.path);

describe('config reference', () => {
  it('every key of the JSON Schema has a description', () => {
    const schema = configJsonSchema();
    // Not vacuous: the walk reaches the nested keys, in lists and in transform alternatives alike.
    const paths = keysOf(schema).map((k) => k.path);
    expect(paths.length).toBeGreaterThan(150);
    expect(paths).toEqual(expect.arrayContaining(['modbus[].devices[].registers[].scale', 'kinesis.credentials.iot.roleAlias', 'transforms[].fields']));
    expect(undescribed(schema)).toEqual([]);
  });

  it('the description check names a key without one', () => {
    const schema = { type: 'object', properties: { a: { type: 'array', description: 'a list', items: { anyOf: [{ properties: { b: { description: ' ' }, c: { description: 'c' } } }] } } } };
    expect(undescribed(schema)).toEqual(['a[].b']);
  });

  it('config/tidegate.schema.json is the schema generated from the source (run `npm run schema` after a change)', async () => {
    const checkedIn = JSON.parse(await readFile(path.join(root, 'config/tidegate.schema.json'), 'utf8'));
    expect(checkedIn).toEqual(configJsonSchema());
  });

  it('docs/reference/configuration.md is the reference generated from the source (run `npm run docs:config` after a change)', async () => {
    const checkedIn = await readFile(path.join(root, 'docs/reference/configuration.md'), 'utf8');
    expect(checkedIn).toBe(configReferenceMarkdown());
  });

  it('the reference has a row for every key of the schema, with its default', () => {
    const markdown = configReferenceMarkdown();
    for (const { path: key } of keysOf(configJsonSchema()).filter((k) => k.path.includes('.') || k.path.includes('['))) {
      expect(markdown, key).toContain(`| \`${key}\` |`);
    }
    expect(markdown).toContain('| `buffer.whenFull` | `"block"` \\| `"drop_oldest"` \\| `"drop_newest"` | `"block"` |');
  });
});
