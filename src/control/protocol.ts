/**
 * The control socket: a Unix domain socket in the data dir (mode 0600, so only the gateway's user can use
 * it), speaking one JSON request and one JSON response per line. `tidegate status` and `tidegate
 * dead-letters` use it to ask a running gateway, whose store they cannot open (LevelDB allows one process).
 */
import path from 'node:path';

export const controlSocketPath = (dataDir: string): string => path.join(dataDir, 'control.sock');

export type ControlRequest =
  | { op: 'status' }
  | { op: 'dead-letters.list'; reason?: string; ids?: number[]; limit?: number }
  | { op: 'dead-letters.purge'; reason?: string; ids?: number[] }
  | { op: 'dead-letters.replay'; reason?: string; ids?: number[] }
  | { op: 'alarms.list'; rule?: string; all?: boolean }
  | { op: 'alarms.ack'; rule: string; deviceId: string }
  | { op: 'alarms.shelve'; rule: string; deviceId: string; until: number };

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };
