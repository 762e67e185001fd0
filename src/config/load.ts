import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { TidegateError } from '../core/errors.js';
import { configSchema, listenerSchema, type Config } from './schema.js';
import { listenerProblems } from './listener-policy.js';
import { routeProblems } from './route-policy.js';
import type { ConfigProblem } from './problem.js';
import { nearestKey } from './key-suggestion.js';
import { locateProblem } from './problem-location.js';

export type { ConfigProblem };

export class ConfigError extends TidegateError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super('ERR_CONFIG_INVALID', formatProblems(source, problems));
  }
}

export function formatProblems(source: string, problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  - ${p.path || '(top level)'}${p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : ''}: ${p.message}`);
  return `invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

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
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TidegateError('ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const lineCounter = new LineCounter();
  const parsed: Document = parseDocument(text, { lineCounter, prettyErrors: true });
  const yamlError = parsed.errors[0];
  if (yamlError) {
    const where = yamlError.linePos ? ` at line ${yamlError.linePos[0].line}, column ${yamlError.linePos[0].col}` : '';
    throw new ConfigError(file, [{ path: '', message: `not valid YAML${where}: ${yamlError.message.split('\n')[0]}` }]);
  }
  try {
    return validateConfig(applyEnvOverrides(parsed.toJS(), env), file);
  } catch (err) {
    // Each problem gets the line of its key in the file, so the reader goes straight to it.
    if (err instanceof ConfigError) throw new ConfigError(file, err.problems.map((p) => locateProblem(p, parsed, lineCounter)));
    throw err;
  }
}

/**
 * Paths and deployment specifics can be overridden from the environment without editing the file
 * (systemd units and containers set these).
 */
export function applyEnvOverrides(doc: unknown, env: NodeJS.ProcessEnv): unknown {
  const out = (doc && typeof doc === 'object' ? structuredClone(doc) : {}) as Record<string, any>;
  if (env.TIDEGATE_DATA_DIR) out.dataDir = env.TIDEGATE_DATA_DIR;
  if (env.TIDEGATE_GATEWAY_ID) out.gatewayId = env.TIDEGATE_GATEWAY_ID;
  if (env.TIDEGATE_LOG_LEVEL) out.log = { ...(out.log ?? {}), level: env.TIDEGATE_LOG_LEVEL };
  if (env.TIDEGATE_KINESIS_STREAM || env.TIDEGATE_KINESIS_REGION || env.TIDEGATE_KINESIS_ENDPOINT) {
    out.kinesis = { ...(out.kinesis ?? {}) };
    if (env.TIDEGATE_KINESIS_STREAM) out.kinesis.streamName = env.TIDEGATE_KINESIS_STREAM;
    if (env.TIDEGATE_KINESIS_REGION) out.kinesis.region = env.TIDEGATE_KINESIS_REGION;
    if (env.TIDEGATE_KINESIS_ENDPOINT) out.kinesis.endpoint = env.TIDEGATE_KINESIS_ENDPOINT;
  }
  applySiteBrokerPasswords(out, env);
  return out;
}

/** `TIDEGATE_SITE_BROKER_<NAME>_PASSWORD`: the name upper-cased, "-" as "_". Keeps secrets out of the file. */
export function siteBrokerPasswordVariable(name: string): string {
  return `TIDEGATE_SITE_BROKER_${name.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

function applySiteBrokerPasswords(out: Record<string, any>, env: NodeJS.ProcessEnv): void {
  if (!Array.isArray(out.siteBrokers)) return;
  out.siteBrokers = out.siteBrokers.map((broker: unknown) => {
    if (!broker || typeof broker !== 'object' || typeof (broker as { name?: unknown }).name !== 'string') return broker;
    const password = env[siteBrokerPasswordVariable((broker as { name: string }).name)];
    return password ? { ...broker, password } : broker;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
