import { stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import { hashPassword, parseHash, verifyPassword, type ParsedHash } from './password-hash.js';
import { readUsersFile } from './users-file.js';

/**
 * The users the broker accepts, read from the users file at start and read again when the file changes
 * (`tidegate passwd` replaces it atomically), so adding or removing a device needs no restart. A file that
 * turns bad while running keeps the previous users in force and is logged; at start it is an error.
 */
export class UserStore {
  private users = new Map<string, ParsedHash>();
  private signature = '';
  private reloading: Promise<void> | null = null;
  private readonly warnings: RateLimitedLog;

  private constructor(
    readonly file: string,
    private readonly logger: Logger,
    /** Verified against for unknown users, so that "no such user" takes as long as "wrong password". */
    private readonly decoy: ParsedHash,
  ) {
    this.warnings = new RateLimitedLog(logger, 60_000);
  }

  /** Throws ERR_USERS_FILE (missing file, bad line N). */
  static async open(file: string, logger: Logger): Promise<UserStore> {
    const decoy = parseHash(await hashPassword(randomBytes(16))) as ParsedHash;
    const store = new UserStore(file, logger, decoy);
    store.signature = await store.fileSignature();
    await store.load();
    logger.info({ usersFile: file, users: store.users.size }, 'MQTT users loaded');
    return store;
  }

  get size(): number {
    return this.users.size;
  }

  async verify(username: string, password: Buffer): Promise<boolean> {
    await this.refresh();
    const entry = this.users.get(username);
    const ok = await verifyPassword(password, entry ?? this.decoy);
    return ok && entry !== undefined;
  }

  private async load(): Promise<void> {
    const parsed = await readUsersFile(this.file);
    this.users = new Map([...parsed].map(([name, e]) => [name, e.parsed]));
  }

  private async fileSignature(): Promise<string> {
    const s = await stat(this.file).catch(() => null);
    return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
  }

  /** Reloads when the file's inode, size or mtime changed; one reload at a time. */
  private async refresh(): Promise<void> {
    if (this.reloading) return this.reloading;
    this.reloading = (async () => {
      const signature = await this.fileSignature();
      if (signature === this.signature) return;
      try {
        await this.load();
        this.signature = signature;
        this.logger.info({ usersFile: this.file, users: this.users.size }, 'MQTT users file changed: reloaded');
      } catch (err) {
        this.warnings.warn('users-reload', { usersFile: this.file, err: describeError(err) }, 'MQTT users file could not be reloaded; the previous users stay in force');
      }
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }
}
