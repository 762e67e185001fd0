import { editDistance } from '../core/edit-distance.js';
import { configJsonSchema, transformEntriesJsonSchema } from './json-schema.js';

type JsonSchema = Record<string, any>;

let cached: JsonSchema | null = null;
/** Built on the first unknown key only: a valid config never pays for it. */
function rootSchema(): JsonSchema {
  if (cached) return cached;
  const schema = configJsonSchema() as JsonSchema;
  // A rule's stages are transform entries, spelled out per type like `transforms` (the published schema
  // leaves them open, as the reference documents them once under transforms).
  const stages = schema.properties?.rules?.items?.properties?.stages;
  if (stages?.items) stages.items = transformEntriesJsonSchema(undefined);
  cached = schema;
  return schema;
}

/**
 * The key a misspelled one most plausibly meant, among the keys the schema allows at `path` (a zod issue
 * path into the parsed document), or null when none is close: at most a third of the word changed, so
 * "listners" gets "listeners" and "foo" gets nothing.
 */
export function nearestKey(word: string, path: ReadonlyArray<PropertyKey>, doc: unknown): string | null {
  const known = knownKeysAt(path, doc);
  let nearest: string | null = null;
  let best = Infinity;
  for (const key of known) {
    // Case alone ("gatewayID") is the most common slip: it wins over any other candidate.
    const d = key.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, key);
    if (d < best) [best, nearest] = [d, key];
  }
  return best <= Math.max(1, Math.floor(word.length / 3)) ? nearest : null;
}

/** The property names the schema allows for the object at `path`; empty when the path cannot be followed. */
export function knownKeysAt(path: ReadonlyArray<PropertyKey>, doc: unknown, root: JsonSchema = rootSchema()): string[] {
  let nodes = variants(root, root, doc);
  let value = doc;
  for (const segment of path) {
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
    const next: JsonSchema[] = [];
    for (const node of nodes) {
      const child = typeof segment === 'number' ? node.items : (node.properties?.[segment] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined));
      if (child && typeof child === 'object') next.push(...variants(child, root, value));
    }
    nodes = next;
  }
  return [...new Set(nodes.flatMap((n) => Object.keys(n.properties ?? {})))];
}

/**
 * The object schemas a node stands for: `$ref`s followed, `anyOf`/`oneOf`/`allOf` flattened, and among
 * alternatives told apart by a `const` property (a transform's or stage's `type`) only the one the document
 * chose, so a detect stage is not offered a window's keys.
 */
function variants(node: JsonSchema, root: JsonSchema, value: unknown, depth = 0): JsonSchema[] {
  if (depth > 16) return [];
  if (typeof node.$ref === 'string') {
    const target = resolveRef(node.$ref, root);
    return target ? variants(target, root, value, depth + 1) : [];
  }
  const alternatives = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (alternatives) {
    const all = alternatives.flatMap((a) => variants(a, root, value, depth + 1));
    const chosen = all.filter((a) => matchesConsts(a, value));
    return chosen.length > 0 ? chosen : all;
  }
  if (node.allOf) return (node.allOf as JsonSchema[]).flatMap((a) => variants(a, root, value, depth + 1));
  return [node];
}

function matchesConsts(node: JsonSchema, value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const consts = Object.entries((node.properties ?? {}) as Record<string, JsonSchema>).filter(([, p]) => p && 'const' in p);
  return consts.length > 0 && consts.every(([k, p]) => (value as Record<string, unknown>)[k] === p.const);
}

function resolveRef(ref: string, root: JsonSchema): JsonSchema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: any = root;
  for (const part of ref.slice(2).split('/')) node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node && typeof node === 'object' ? node : undefined;
}
