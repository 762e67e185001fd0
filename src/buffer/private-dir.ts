import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Readings are site data: the buffer directory is for tidegate's own user only. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates `dir` (and missing parents) as 0700. mkdir's mode passes through the process umask, which can
 * only remove bits, so every directory created here is chmod'ed to exactly 0700 whether tidegate runs from
 * its CLI (umask 077) or inside another process. An existing directory is left as the operator set it;
 * the returned mode lets the caller warn when others can read it.
 */
export async function ensurePrivateDir(dir: string): Promise<{ created: boolean; mode: number }> {
  const first = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first !== undefined) {
    // mkdir returns the first directory it created; every one from there down to `dir` is ours.
    const top = path.resolve(first);
    for (let p = path.resolve(dir); ; p = path.dirname(p)) {
      await chmod(p, PRIVATE_DIR_MODE);
      if (p === top || p === path.dirname(p)) break;
    }
  }
  return { created: first !== undefined, mode: (await stat(dir)).mode & 0o777 };
}
