import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { TidegateError } from '../core/errors.js';
import { parseHash, type ParsedHash } from './password-hash.js';

/**
 * The users file: one `username:$scrypt$...` line per user; blank lines and `#` comments are allowed.
 * A username is also the device id of the client (the ACL's `{username}`), so it is restricted to
 * characters that cannot change the meaning of a topic: no `/`, `+`, `#` [MQTT-4.7.1], no NUL, no spaces.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;
export const USERNAME_RULE = '1-128 characters: letters, digits, "_", ".", "@", "-", starting with a letter or digit';

export interface UserEntry {
  username: string;
  hash: string;
}

export function usersFileError(file: string, message: string, cause?: unknown): TidegateError {
  return new TidegateError('ERR_USERS_FILE', `users file ${file}: ${message}`, cause === undefined ? {} : { cause });
}

/** Parses the whole file; the first bad line is reported with its number. */
export function parseUsers(text: string, file: string): Map<string, UserEntry & { parsed: ParsedHash }> {
  const users = new Map<string, UserEntry & { parsed: ParsedHash }>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const where = `line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw usersFileError(file, `${where}: expected "username:hash" (write entries with tidegate passwd add)`);
    const username = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!USERNAME_PATTERN.test(username)) throw usersFileError(file, `${where}: bad username "${username.slice(0, 40)}" (${USERNAME_RULE})`);
    if (users.has(username)) throw usersFileError(file, `${where}: user "${username}" appears twice`);
    const parsed = parseHash(hash);
    if (typeof parsed === 'string') throw usersFileError(file, `${where}: bad password hash for "${username}": ${parsed}`);
    users.set(username, { username, hash, parsed });
  });
  return users;
}

export async function readUsersFile(file: string): Promise<Map<string, UserEntry & { parsed: ParsedHash }>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'does not exist (create it with `tidegate passwd add <user> --file <path>`)'
        : `cannot be read: ${(err as Error).message}`;
    throw usersFileError(file, message, err);
  }
  return parseUsers(text, file);
}

/**
 * Writes the file atomically: a temp file in the same directory (mode 0600, fsynced), renamed over the old
 * one, then the directory fsynced, so a reader (the running gateway) sees the old file or the new one, never
 * half of it, and a power cut cannot leave it empty.
 */
export async function writeUsersFile(file: string, users: Iterable<UserEntry>): Promise<void> {
  const lines = ['# tidegate users: username:scrypt hash. Edit with `tidegate passwd add|remove|list`.'];
  for (const u of users) lines.push(`${u.username}:${u.hash}`);
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${lines.join('\n')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw usersFileError(file, `cannot be written: ${(err as Error).message}`, err);
  }
  const dirHandle = await open(dir, 'r').catch(() => null);
  if (dirHandle) await dirHandle.sync().catch(() => undefined).finally(() => dirHandle.close());
}
