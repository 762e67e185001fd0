import { mkdir, readdir, rename } from 'node:fs/promises';
import { Level } from 'level';
import { TidegateError } from '../core/errors.js';

export interface OpenedStore {
  db: Level<string, string>;
  /** Set when the previous store could not be opened and was moved aside. */
  quarantinedTo: string | null;
  reason: string | null;
}

const levelCode = (err: unknown): string | undefined =>
  (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;

/**
 * LevelDB treats a directory without CURRENT as new and would silently start over (and later delete the old
 * table files as obsolete). A directory with table or log files but no CURRENT is damaged, not empty.
 */
async function missingCurrent(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return false;
  }
  const hasData = names.some((n) => /\.(ldb|sst|log)$/.test(n) || n.startsWith('MANIFEST-'));
  return hasData && !names.includes('CURRENT');
}

/**
 * Opens the store. A store that is damaged (fails to open as corrupt, or lost its CURRENT file) is moved
 * aside to `<dir>.corrupt-<time>`, never deleted, and a fresh store is opened, so the gateway keeps taking
 * readings instead of crash-looping or running without forwarding. A store locked by another process is
 * an operator error and fails at once.
 */
export async function openStore(dir: string, make: () => Level<string, string>, now = new Date()): Promise<OpenedStore> {
  let reason: string | null = (await missingCurrent(dir)) ? 'the CURRENT file is missing' : null;
  if (!reason) {
    const db = make();
    try {
      await db.open();
      return { db, quarantinedTo: null, reason: null };
    } catch (err) {
      const code = levelCode(err);
      if (code === 'LEVEL_LOCKED') {
        throw new TidegateError('ERR_QUEUE_LOCKED', `another tidegate process is using ${dir}; stop it or point dataDir elsewhere`, { cause: err });
      }
      if (code !== 'LEVEL_CORRUPTION') {
        throw new TidegateError('ERR_QUEUE_OPEN', `cannot open the buffer in ${dir}: ${(err as Error).message}`, { cause: err });
      }
      reason = `corrupt: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`;
    }
  }
  const quarantinedTo = `${dir}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  await rename(dir, quarantinedTo);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const db = make();
  await db.open();
  return { db, quarantinedTo, reason };
}
