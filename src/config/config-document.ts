import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { TidegateError } from '../core/errors.js';
import { ConfigError } from './config-error.js';

export { ConfigError, formatProblems } from './config-error.js';

/*
 * Reading a config file up to, not including, its validation. Kept apart from the schema (zod and every
 * transform type's slice, about 200 modules) so that operator commands which need only a path from the
 * file — where the data dir is, which users file — start quickly (issue "Pi-class efficiency": CLI
 * commands start in ≤ 300 ms).
 */

export interface ConfigDocument {
  readonly document: Document;
  readonly lineCounter: LineCounter;
}

/** Reads and parses the YAML of a config file; an unreadable file or invalid YAML is a precise error. */
export async function readConfigDocument(file: string): Promise<ConfigDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TidegateError('ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const lineCounter = new LineCounter();
  const document: Document = parseDocument(text, { lineCounter, prettyErrors: true });
  const yamlError = document.errors[0];
  if (yamlError) {
    const where = yamlError.linePos ? ` at line ${yamlError.linePos[0].line}, column ${yamlError.linePos[0].col}` : '';
    throw new ConfigError(file, [{ path: '', message: `not valid YAML${where}: ${yamlError.message.split('\n')[0]}` }]);
  }
  return { document, lineCounter };
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

