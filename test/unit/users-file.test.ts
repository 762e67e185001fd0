import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword, parseHash, verifyPassword, type ParsedHash } from '../../src/auth/password-hash.js';
import { UserStore } from '../../src/auth/user-store.js';
import { parseUsers, readUsersFile, writeUsersFile } from '../../src/auth/users-file.js';
import { isTidegateError } from '../../src/core/errors.js';

const pw = (s: string) => Buffer.from(s);

describe('password hashes', () => {
  it('salts every hash, keeps its parameters, and verifies only the right password', async () => {
    const a = await hashPassword(pw('correct horse'), { ln: 10, r: 8, p: 1 });
    const b = await hashPassword(pw('correct horse'), { ln: 10, r: 8, p: 1 });
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[\w-]+\$[\w-]+$/);
    const parsed = parseHash(a) as ParsedHash;
    expect(await verifyPassword(pw('correct horse'), parsed)).toBe(true);
    expect(await verifyPassword(pw('correct horsf'), parsed)).toBe(false);
  });

  it('refuses parameters outside sane bounds and malformed strings, saying what is wrong', () => {
    expect(parseHash('$scrypt$ln=30,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA')).toContain('ln=30 is outside 10..20');
    expect(parseHash('$bcrypt$x')).toContain('not a $scrypt$');
    expect(parseHash('$scrypt$ln=14,r=8$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA')).toContain('ln, r and p');
  });
});

describe('users file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tidegate-users-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the bad line', async () => {
    const good = await hashPassword(pw('password1'), { ln: 10, r: 8, p: 1 });
    const text = `# users\n\nth-042:${good}\nth/43:${good}\n`;
    expect(() => parseUsers(text, 'u')).toThrow(/users file u: line 4: bad username "th\/43"/);
    expect(() => parseUsers(`a:${good}\na:${good}\n`, 'u')).toThrow(/line 2: user "a" appears twice/);
    expect(() => parseUsers('a:nothash\n', 'u')).toThrow(/line 1: bad password hash for "a"/);
    expect(() => parseUsers('just-a-name\n', 'u')).toThrow(/line 1: expected "username:hash"/);
  });

  it('is written atomically with mode 0600 and read back; a missing file is a clear error', async () => {
    const file = path.join(dir, 'users');
    const err = await readUsersFile(file).catch((e: unknown) => e);
    expect(isTidegateError(err, 'ERR_USERS_FILE')).toBe(true);
    expect((err as Error).message).toContain('does not exist (create it with `tidegate passwd add');
    const hash = await hashPassword(pw('password1'), { ln: 10, r: 8, p: 1 });
    await writeUsersFile(file, [{ username: 'th-042', hash }]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect([...(await readUsersFile(file)).keys()]).toEqual(['th-042']);
    expect(await readFile(file, 'utf8')).toContain(`th-042:${hash}\n`);
  });

  it('the store verifies users, picks up a changed file, and keeps the old users when the new file is bad', async () => {
    const file = path.join(dir, 'users');
    await writeUsersFile(file, [{ username: 'a', hash: await hashPassword(pw('password-a'), { ln: 10, r: 8, p: 1 }) }]);
    const store = await UserStore.open(file, pino({ level: 'silent' }));
    expect(await store.verify('a', pw('password-a'))).toBe(true);
    expect(await store.verify('a', pw('password-b'))).toBe(false);
    expect(await store.verify('nobody', pw('password-a'))).toBe(false);
    await writeUsersFile(file, [{ username: 'b', hash: await hashPassword(pw('password-b'), { ln: 10, r: 8, p: 1 }) }]);
    expect(await store.verify('b', pw('password-b'))).toBe(true);
    expect(await store.verify('a', pw('password-a'))).toBe(false);
    await writeFile(file, 'garbage line\n');
    expect(await store.verify('b', pw('password-b'))).toBe(true);
  });
});
