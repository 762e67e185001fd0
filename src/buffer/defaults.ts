import type { WhenFull } from './types.js';

/**
 * The buffer's budget defaults, apart from its schema (./config.ts) so that `tidegate status` on a
 * stopped gateway can report them without loading zod (src/config/buffer-inspection.ts). The schema
 * uses these too.
 */
/** 2 GiB holds about a week of 10 readings/s without uplink (~330 B stored per 200 B reading). */
export const DEFAULT_BUFFER_MAX_BYTES = 2 * 1024 * 1024 * 1024;
export const MIN_BUFFER_MAX_BYTES = 1024 * 1024;
export const WHEN_FULL_MODES = ['block', 'drop_oldest', 'drop_newest'] as const satisfies readonly WhenFull[];
export const DEFAULT_WHEN_FULL: WhenFull = 'block';
export const DEFAULT_MAX_COMMIT_RECORDS = 2_000;
