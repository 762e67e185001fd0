import path from 'node:path';
import { readUnvalidatedConfig } from './unvalidated.js';

/** The default of `dataDir`; the schema's default too (src/buffer/config.ts). */
export const DEFAULT_DATA_DIR = './data';

export interface ConfigPaths {
  /** Absolute; undefined when the file's `dataDir` is not a non-empty string (the full validation says why). */
  readonly dataDir: string | undefined;
  /** Absolute; undefined when `mqtt.auth.usersFile` is not set to a non-empty string. */
  readonly usersFile: string | undefined;
}

/**
 * The data dir and the users file a config file names, with the environment's overrides and resolved as
 * the validated config resolves them, without validating the rest: for operator commands that only need
 * the running gateway's control socket or the users file, so they start without loading the schema
 * (issue "Pi-class efficiency": CLI commands start in ≤ 300 ms). A command that goes further, such as
 * opening a stopped gateway's buffer, loads the whole config and with it reports every problem the file has.
 */
export async function readConfigPaths(file: string, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): Promise<ConfigPaths> {
  const doc = (await readUnvalidatedConfig(file, env)) as { dataDir?: unknown; mqtt?: { auth?: { usersFile?: unknown } | null } | null };
  const usersFile = doc.mqtt?.auth?.usersFile;
  return {
    dataDir: resolveDataDir(doc.dataDir, baseDir),
    usersFile: typeof usersFile === 'string' && usersFile.length > 0 ? path.resolve(baseDir, usersFile) : undefined,
  };
}

/** `dataDir` as the validated config resolves it (the default when left out); undefined when not a non-empty string. */
export function resolveDataDir(dataDir: unknown, baseDir: string): string | undefined {
  const dir = dataDir === undefined ? DEFAULT_DATA_DIR : dataDir;
  return typeof dir === 'string' && dir.length > 0 ? path.resolve(baseDir, dir) : undefined;
}
