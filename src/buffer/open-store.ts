import { readdir, rename } from 'node:fs/promises';
import type { AbstractLevel } from 'abstract-level';
import { TidegateError } from '../core/errors.js';
import { ensurePrivateDir } from './private-dir.js';

/** The store the buffer runs on: classic-level in production, any abstract-level database with string keys and values. */
export type BufferStore = AbstractLevel<string | Buffer | Uint8Array, string, string>;

export interface OpenedStore {
  db: BufferStore;
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
export async function openStore(dir: string, make: () => BufferStore, now = new Date()): Promise<OpenedStore> {
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
  await ensurePrivateDir(dir);
  const db = make();
  await db.open();
  return { db, quarantinedTo, reason };
}

/** Opens an existing store as it is, for operator tools: a missing or damaged store is an error, not quarantined. */
export async function openForInspection(dir: string, make: () => BufferStore): Promise<OpenedStore> {
  if (await missingCurrent(dir)) throw new TidegateError('ERR_QUEUE_OPEN', `the buffer in ${dir} is damaged (its CURRENT file is missing); start the gateway to move it aside`);
  const names = await readdir(dir).catch(() => [] as string[]);
  if (!names.includes('CURRENT')) throw new TidegateError('ERR_QUEUE_OPEN', `there is no tidegate buffer in ${dir} (check dataDir in the config)`);
  const db = make();
  try {
    await db.open();
  } catch (err) {
    if (levelCode(err) === 'LEVEL_LOCKED') {
      throw new TidegateError('ERR_QUEUE_LOCKED', `the gateway using ${dir} does not answer on its control socket; it may be starting or stopping, try again`, { cause: err });
    }
    throw new TidegateError('ERR_QUEUE_OPEN', `cannot open the buffer in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return { db, quarantinedTo: null, reason: null };
}
