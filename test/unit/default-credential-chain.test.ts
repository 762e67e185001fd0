import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCredentialChain, isCredentialsError } from '../../src/aws/credentials.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// What the chain reads, saved and restored around each test; none of them may reach the network: the
// instance metadata service is turned off, and no container or web identity variables are set.
const CHAIN_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CREDENTIAL_EXPIRATION',
] as const;

describe('the standard AWS credential chain for the direct Kinesis port', () => {
  const saved = new Map<string, string | undefined>();
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => {
    for (const name of CHAIN_ENV) {
      saved.set(name, process.env[name]);
      delete process.env[name];
    }
    temp = await makeTempDir('tidegate-chain-');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(temp.dir, 'credentials');
    process.env.AWS_CONFIG_FILE = path.join(temp.dir, 'config');
  });
  afterEach(async () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await temp.cleanup();
  });

  it('takes the environment\'s keys first', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENVIRONMENT';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-environment';
    process.env.AWS_SESSION_TOKEN = 'token-from-environment';
    await expect(defaultCredentialChain('eu-west-1')()).resolves.toMatchObject({ accessKeyId: 'AKIDENVIRONMENT', secretAccessKey: 'secret-from-environment', sessionToken: 'token-from-environment' });
  });

  it('skips the environment\'s keys when AWS_PROFILE is set, as the SDK\'s chain does, and leaves keys that expire to the chain', async () => {
    await writeFile(process.env.AWS_SHARED_CREDENTIALS_FILE!, '[edge]\naws_access_key_id = AKIDEDGE\naws_secret_access_key = s1\n');
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENVIRONMENT';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-environment';
    process.env.AWS_PROFILE = 'edge';
    await expect(defaultCredentialChain('eu-west-1')()).resolves.toMatchObject({ accessKeyId: 'AKIDEDGE', secretAccessKey: 's1' });
    delete process.env.AWS_PROFILE;
    process.env.AWS_CREDENTIAL_EXPIRATION = '2099-01-01T00:00:00Z';
    const expiring = await defaultCredentialChain('eu-west-1')();
    expect(expiring).toMatchObject({ accessKeyId: 'AKIDENVIRONMENT' });
    expect(expiring.expiration?.toISOString()).toBe('2099-01-01T00:00:00.000Z');
  });

  it('reads a named profile from the shared credentials file', async () => {
    await writeFile(process.env.AWS_SHARED_CREDENTIALS_FILE!, '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s0\n\n[edge]\naws_access_key_id = AKIDEDGE\naws_secret_access_key = s1\n');
    process.env.AWS_PROFILE = 'edge';
    await expect(defaultCredentialChain('eu-west-1')()).resolves.toMatchObject({ accessKeyId: 'AKIDEDGE', secretAccessKey: 's1' });
  });

  it('fails with the chain\'s own error when there are none, which health reads as a credentials problem', async () => {
    const failure = await defaultCredentialChain('eu-west-1')().then(() => null, (err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(isCredentialsError(failure)).toBe(true);
  });
});
