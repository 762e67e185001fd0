import { hashPassword } from '../auth/password-hash.js';
import { readUsersFile, usersFileError, USERNAME_PATTERN, USERNAME_RULE, writeUsersFile, type UserEntry } from '../auth/users-file.js';
import { readConfigPaths } from '../config/config-paths.js';
import { isTidegateError, TidegateError } from '../core/errors.js';

export interface PasswdOptions {
  /** The users file; default: mqtt.auth.usersFile of the config. */
  file?: string;
  config: string;
  passwordStdin?: boolean;
}

const MIN_PASSWORD = 8;
const MAX_PASSWORD_BYTES = 1024;

/** `tidegate passwd add <user>`: adds the user, or replaces its password; creates the file when missing. */
export async function passwdAdd(username: string, o: PasswdOptions): Promise<number> {
  if (!USERNAME_PATTERN.test(username)) throw new TidegateError('ERR_USAGE', `bad username "${username}": ${USERNAME_RULE}`);
  const file = await usersFile(o);
  const users = await readUsersFile(file).catch((err: unknown) => {
    if (isTidegateError(err, 'ERR_USERS_FILE') && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return new Map<string, UserEntry>();
    throw err;
  });
  const password = o.passwordStdin ? await passwordFromStdin() : await passwordFromTerminal();
  const existed = users.has(username);
  const entries = new Map<string, UserEntry>([...users].map(([name, e]) => [name, { username: name, hash: e.hash }]));
  entries.set(username, { username, hash: await hashPassword(password) });
  await writeUsersFile(file, entries.values());
  process.stdout.write(`${existed ? 'updated' : 'added'} ${username} in ${file}\n`);
  return 0;
}

export async function passwdRemove(username: string, o: PasswdOptions): Promise<number> {
  const file = await usersFile(o);
  const users = await readUsersFile(file);
  if (!users.has(username)) throw usersFileError(file, `has no user "${username}" (tidegate passwd list shows who is there)`);
  users.delete(username);
  await writeUsersFile(file, users.values());
  process.stdout.write(`removed ${username} from ${file}\n`);
  return 0;
}

/** One user a line, with the scrypt parameters of its hash (to see which still need raising). */
export async function passwdList(o: PasswdOptions): Promise<number> {
  const users = await readUsersFile(await usersFile(o));
  for (const u of users.values()) process.stdout.write(`${u.username}\tscrypt ln=${u.parsed.params.ln} r=${u.parsed.params.r} p=${u.parsed.params.p}\n`);
  return 0;
}

async function usersFile(o: PasswdOptions): Promise<string> {
  if (o.file) return o.file;
  // Only the path is needed: the gateway validates the rest of the file when it starts.
  const configured = (await readConfigPaths(o.config)).usersFile;
  if (configured) return configured;
  // No usable path: the whole config says why if the file is wrong (usersFile: 5), else it is just unset.
  const { loadConfig } = await import('../config/load.js');
  await loadConfig(o.config);
  throw new TidegateError('ERR_USAGE', `no users file: pass --file <path>, or set mqtt.auth.usersFile in ${o.config}`);
}

function checkPassword(password: Buffer): Buffer {
  if (password.length > MAX_PASSWORD_BYTES) throw new TidegateError('ERR_USAGE', `password longer than ${MAX_PASSWORD_BYTES} bytes`);
  if ([...password.toString('utf8')].length < MIN_PASSWORD) throw new TidegateError('ERR_USAGE', `password shorter than ${MIN_PASSWORD} characters`);
  return password;
}

/** For scripts and CI (no terminal): the whole of stdin, without its final line break. */
async function passwordFromStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PASSWORD_BYTES + 2) throw new TidegateError('ERR_USAGE', `password longer than ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.includes('\n')) throw new TidegateError('ERR_USAGE', 'the password on stdin has more than one line');
  return checkPassword(Buffer.from(text, 'utf8'));
}

async function passwordFromTerminal(): Promise<Buffer> {
  if (!process.stdin.isTTY) throw new TidegateError('ERR_USAGE', 'no terminal to ask for the password: pipe it in and pass --password-stdin');
  const first = await promptHidden('Password: ');
  const again = await promptHidden('Password again: ');
  if (first !== again) throw new TidegateError('ERR_USAGE', 'the two passwords differ; nothing was changed');
  return checkPassword(Buffer.from(first, 'utf8'));
}

/** Reads one line from the terminal in raw mode, echoing nothing. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return resolve(chars.join(''));
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          return reject(new TidegateError('ERR_ABORTED', 'cancelled; nothing was changed'));
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}
