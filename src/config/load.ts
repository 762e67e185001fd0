import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { TidegateError } from '../core/errors.js';
import { configSchema, listenerSchema, type Config } from './schema.js';
import { listenerProblems } from './listener-policy.js';
import { routeProblems } from './route-policy.js';
import type { ConfigProblem } from './problem.js';

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
  const lines = problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`);
  return `invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

function issuePath(p: ReadonlyArray<PropertyKey>): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function fromZod(issues: z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      return { path: issuePath(i.path), message: `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (check the spelling against config/default.yaml)` };
    }
    return { path: issuePath(i.path), message: i.message };
  });
}

/** Validates a parsed document; every problem is reported at once, with its path. */
export function validateConfig(doc: unknown, source: string, baseDir = process.cwd()): Config {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    // Report the listener policy too when the listeners themselves are well-formed: every problem at once.
    const listeners = listenerSchema.array().safeParse((doc as { mqtt?: { listeners?: unknown } } | null)?.mqtt?.listeners);
    const usersFile = (doc as { mqtt?: { auth?: { usersFile?: unknown } } } | null)?.mqtt?.auth?.usersFile;
    const policy = listeners.success ? listenerProblems(listeners.data, { usersFile: typeof usersFile === 'string' ? usersFile : undefined }) : [];
    throw new ConfigError(source, [...fromZod(result.error.issues), ...policy]);
  }
  const config = result.data;
  const problems = [...listenerProblems(config.mqtt.listeners, config.mqtt.auth), ...routeProblems(config)];
  if (problems.length > 0) throw new ConfigError(source, problems);
  // A relative data dir is relative to the directory tidegate runs in, like every CLI path.
  config.dataDir = path.resolve(baseDir, config.dataDir);
  if (config.mqtt.auth.usersFile) config.mqtt.auth.usersFile = path.resolve(baseDir, config.mqtt.auth.usersFile);
  return deepFreeze(config);
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TidegateError('ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new ConfigError(file, [{ path: '', message: `not valid YAML${where}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return validateConfig(applyEnvOverrides(doc, env), file);
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
