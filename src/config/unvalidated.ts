import { applyEnvOverrides, readConfigDocument } from './config-document.js';

/*
 * Reading a few keys of a config file without its schema, for the operator commands that need no more
 * (src/config/config-paths.ts, kinesis-target.ts, buffer-inspection.ts). Each reader checks its keys as the
 * schema would and gives up (undefined) where the schema would refuse one, so that the caller's full
 * validation says what is wrong.
 */

export type Fields = Record<string, unknown>;

/** The file's YAML as plain data, with the environment's overrides, not validated; a top level that is not a mapping reads as empty. */
export async function readUnvalidatedConfig(file: string, env: NodeJS.ProcessEnv): Promise<Fields> {
  const { document } = await readConfigDocument(file);
  return applyEnvOverrides(document.toJS(), env) as Fields;
}

export const isMapping = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key left out takes the schema's default; one set to null does not (the schema refuses it). */
export const orDefault = (v: unknown, fallback: unknown): unknown => (v === undefined ? fallback : v);

export const isWholeNumber = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
