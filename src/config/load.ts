import path from 'node:path';
import { deepFreeze } from '../core/deep-freeze.js';
import type { z } from 'zod';
import { applyEnvOverrides, ConfigError, readConfigDocument } from './config-document.js';
import { configSchema, listenerSchema, type Config } from './schema.js';
import { listenerProblems } from './listener-policy.js';
import { routeProblems } from './route-policy.js';
import type { ConfigProblem } from './problem.js';
import { nearestKey } from './key-suggestion.js';
import { locateProblem } from './problem-location.js';

export type { ConfigProblem };
export { applyEnvOverrides, ConfigError, formatProblems, siteBrokerPasswordVariable } from './config-document.js';

function issuePath(p: ReadonlyArray<PropertyKey>): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function fromZod(issues: z.core.$ZodIssue[], doc: unknown): ConfigProblem[] {
  return issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      return { path: issuePath(i.path), at: i.path, key: i.keys[0], message: unknownKeysMessage(i.keys, i.path, doc) };
    }
    return { path: issuePath(i.path), at: i.path, message: i.message };
  });
}

/** `unknown key "listners" (did you mean "listeners"?)`; the reference is named when nothing is close. */
function unknownKeysMessage(keys: readonly string[], at: ReadonlyArray<PropertyKey>, doc: unknown): string {
  const named = `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  const suggestions = keys.flatMap((k) => {
    const nearest = nearestKey(k, at, doc);
    return nearest ? [{ k, nearest }] : [];
  });
  if (suggestions.length === 0) return `${named} (check the spelling against docs/reference/configuration.md)`;
  if (keys.length === 1) return `${named} (did you mean "${suggestions[0]!.nearest}"?)`;
  return `${named} (did you mean ${suggestions.map((s) => `"${s.nearest}" for "${s.k}"`).join(', ')}?)`;
}

/** A problem inside `rules[i]` names the rule too: `rules[2]` alone sends the reader counting list items. */
function namingRule(problem: ConfigProblem, doc: unknown): ConfigProblem {
  const index = /^rules\[(\d+)\]/.exec(problem.path)?.[1];
  if (index === undefined) return problem;
  const name = (doc as { rules?: Array<{ name?: unknown } | null> } | null)?.rules?.[Number(index)]?.name;
  return typeof name === 'string' ? { ...problem, message: `rule "${name}": ${problem.message}` } : problem;
}

/** Validates a parsed document; every problem is reported at once, with its path. */
export function validateConfig(doc: unknown, source: string, baseDir = process.cwd()): Config {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    // Report the listener policy too when the listeners themselves are well-formed: every problem at once.
    const listeners = listenerSchema.array().safeParse((doc as { mqtt?: { listeners?: unknown } } | null)?.mqtt?.listeners);
    const usersFile = (doc as { mqtt?: { auth?: { usersFile?: unknown } } } | null)?.mqtt?.auth?.usersFile;
    const policy = listeners.success ? listenerProblems(listeners.data, { usersFile: typeof usersFile === 'string' ? usersFile : undefined }) : [];
    throw new ConfigError(source, [...fromZod(result.error.issues, doc).map((p) => namingRule(p, doc)), ...policy]);
  }
  const config = result.data;
  const problems = [...listenerProblems(config.mqtt.listeners, config.mqtt.auth), ...routeProblems(config)];
  if (problems.length > 0) throw new ConfigError(source, problems);
  // A relative data dir is relative to the directory tidegate runs in, like every CLI path.
  config.dataDir = path.resolve(baseDir, config.dataDir);
  if (config.mqtt.auth.usersFile) config.mqtt.auth.usersFile = path.resolve(baseDir, config.mqtt.auth.usersFile);
  // Device registries of enrich stages, in transforms and rules alike.
  for (const entry of [...config.transforms, ...config.rules.flatMap((r) => r.stages)]) {
    const registry = (entry as { registry?: unknown }).registry;
    if (entry.type === 'enrich' && typeof registry === 'string') (entry as Record<string, unknown>).registry = path.resolve(baseDir, registry);
  }
  return deepFreeze(config);
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const { document, lineCounter } = await readConfigDocument(file);
  try {
    return validateConfig(applyEnvOverrides(document.toJS(), env), file);
  } catch (err) {
    // Each problem gets the line of its key in the file, so the reader goes straight to it.
    if (err instanceof ConfigError) throw new ConfigError(file, err.problems.map((p) => locateProblem(p, document, lineCounter)));
    throw err;
  }
}
