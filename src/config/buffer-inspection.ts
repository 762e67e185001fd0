import { DEFAULT_BUFFER_MAX_BYTES, DEFAULT_WHEN_FULL, MIN_BUFFER_MAX_BYTES, WHEN_FULL_MODES } from '../buffer/defaults.js';
import type { WhenFull } from '../buffer/types.js';
import { DEFAULT_GATEWAY_ID, GATEWAY_ID_PATTERN, MAX_GATEWAY_ID_LENGTH } from '../core/gateway-id.js';
import { resolveDataDir } from './config-paths.js';
import { isMapping, isWholeNumber, orDefault, readUnvalidatedConfig } from './unvalidated.js';

/** What `tidegate status` needs to open a stopped gateway's buffer and report on it, as the validated config has it. */
export interface BufferInspection {
  /** Absolute. */
  readonly dataDir: string;
  readonly gatewayId: string;
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
}

const isGatewayId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_GATEWAY_ID_LENGTH && GATEWAY_ID_PATTERN.test(v);
const isWhenFull = (v: unknown): v is WhenFull => (WHEN_FULL_MODES as readonly unknown[]).includes(v);

/**
 * `dataDir`, `gatewayId`, `buffer.maxBytes` and `buffer.whenFull` of a config file, with the environment's
 * overrides and the schema's defaults, read without loading the schema: the status of a stopped gateway
 * needs no more, and the schema is most of that command's start (issue "Pi-class efficiency": CLI commands
 * start in ≤ 300 ms). It also lets the operator read the buffer of a gateway whose config has a problem
 * elsewhere (a rule that no longer compiles, say), which is when the buffer's counters matter most.
 *
 * Undefined when any of these keys holds what the schema would refuse: the caller then loads the whole
 * config, which says precisely what is wrong.
 */
export async function readBufferInspection(file: string, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): Promise<BufferInspection | undefined> {
  const doc = await readUnvalidatedConfig(file, env);
  const dataDir = resolveDataDir(doc.dataDir, baseDir);
  const gatewayId = orDefault(doc.gatewayId, DEFAULT_GATEWAY_ID);
  const buffer = orDefault(doc.buffer, {});
  if (dataDir === undefined || !isGatewayId(gatewayId) || !isMapping(buffer)) return undefined;
  const maxBytes = orDefault(buffer.maxBytes, DEFAULT_BUFFER_MAX_BYTES);
  const whenFull = orDefault(buffer.whenFull, DEFAULT_WHEN_FULL);
  if (!isWholeNumber(maxBytes, MIN_BUFFER_MAX_BYTES, Number.MAX_SAFE_INTEGER) || !isWhenFull(whenFull)) return undefined;
  return { dataDir, gatewayId, maxBytes, whenFull };
}
