import type { VerifyReport } from './analyze.js';

/**
 * Exit status of `tidegate tail --verify`: 0 clean (duplicates and reorderings are reported but are what
 * at-least-once delivery allows), 3 gaps in some device's seq, 4 records that could not be read (bad KPL
 * aggregate, not a tidegate record) and no gaps. 1 and 2 keep their CLI-wide meaning (runtime failure, usage).
 */
export const VERIFY_EXIT = { clean: 0, gaps: 3, unreadable: 4 } as const;

export function verifyExitCode(r: VerifyReport): number {
  if (r.totals.gaps > 0) return VERIFY_EXIT.gaps;
  if (r.unreadable.count > 0) return VERIFY_EXIT.unreadable;
  return VERIFY_EXIT.clean;
}
