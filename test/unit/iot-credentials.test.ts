import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { iotCredentialsProvider, type IotCredentialsOptions } from '../../src/aws/iot-credentials.js';
import { validateConfig } from '../../src/config/load.js';
import { isTidegateError, type TidegateError } from '../../src/core/errors.js';
import { FakeIotCredentialsEndpoint } from '../helpers/fake-iot-credentials.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { TestPki, type CertFiles } from '../helpers/test-pki.js';

const MINUTE = 60_000;

describe('AWS IoT credentials provider', () => {
  let temp: { dir: string; cleanup(): Promise<void> };
  let pki: TestPki;
  let serverCert: CertFiles;
  let tlsFiles: IotCredentialsOptions['tls'];
  let fake: FakeIotCredentialsEndpoint;
  let endpoint: string;
  let logLines: string[];

  beforeAll(async () => {
    temp = await makeTempDir('tidegate-iot-');
    pki = await TestPki.create(temp.dir);
    serverCert = await pki.serverCert();
    const device = await pki.clientCert('gateway-thing-7');
    const [cert, key, ca] = await Promise.all([readFile(device.certFile), readFile(device.keyFile), readFile(pki.ca.certFile)]);
    tlsFiles = { cert, key, ca };
  }, 30_000);

  afterAll(async () => temp?.cleanup());

  afterEach(async () => fake?.close());

  async function startFake(): Promise<void> {
    fake = new FakeIotCredentialsEndpoint();
    endpoint = await fake.start(pki, serverCert);
  }

  function provider(extra: Partial<IotCredentialsOptions> = {}): ReturnType<typeof iotCredentialsProvider> {
    logLines = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    return iotCredentialsProvider({ endpoint, roleAlias: 'tidegate-kinesis', thingName: 'gateway-thing-7', tls: tlsFiles, logger, backoff: { baseMs: 10, maxMs: 50 }, ...extra });
  }

  it('asks for the role alias with the thing name header and the device certificate, and returns the credentials', async () => {
    await startFake();
    const expiration = new Date(Date.now() + 60 * MINUTE);
    fake.answer = (n) => ({ status: 200, body: FakeIotCredentialsEndpoint.credentials(n, expiration) });
    const credentials = await provider()();
    expect(fake.requests).toEqual([{ method: 'GET', path: '/role-aliases/tidegate-kinesis/credentials', thingName: 'gateway-thing-7', clientCn: 'gateway-thing-7' }]);
    expect(credentials).toEqual({ accessKeyId: 'ASIAFAKE1', secretAccessKey: 'fake-secret-1-do-not-log', sessionToken: 'fake-session-token-1-do-not-log', expiration });
    // What is logged names the role alias and the expiry, never the secret or the token.
    const logged = logLines.join('\n');
    expect(logged).toContain('tidegate-kinesis');
    expect(logged).not.toContain('do-not-log');
  });

  it('keeps the credentials until 5 minutes before they expire, then renews them', async () => {
    await startFake();
    let clock = Date.parse('2026-11-28T10:00:00Z');
    fake.answer = (n) => ({ status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(clock + 60 * MINUTE)) });
    const get = provider({ now: () => clock });
    expect((await get()).accessKeyId).toBe('ASIAFAKE1');
    clock += 54 * MINUTE; // 6 minutes left: still served from the cache
    expect((await get()).accessKeyId).toBe('ASIAFAKE1');
    expect(fake.requests).toHaveLength(1);
    clock += 2 * MINUTE; // 4 minutes left: inside the refresh window, renewed before expiry
    expect((await get()).accessKeyId).toBe('ASIAFAKE2');
    expect(fake.requests).toHaveLength(2);
  });

  it('lets concurrent callers share one request', async () => {
    await startFake();
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    fake.answer = (n) => ({ status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(Date.now() + 60 * MINUTE)), hold });
    const get = provider();
    const calls = Array.from({ length: 20 }, () => get());
    await waitFor(() => fake.requests.length === 1);
    release();
    const results = await Promise.all(calls);
    expect(new Set(results.map((c) => c.accessKeyId))).toEqual(new Set(['ASIAFAKE1']));
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a failing endpoint with backoff and succeeds when it recovers', async () => {
    await startFake();
    fake.answer = (n) =>
      n <= 2 ? { status: 503, body: { message: 'Service unavailable' } } : { status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(Date.now() + 60 * MINUTE)) };
    const credentials = await provider({ attempts: 4 })();
    expect(credentials.accessKeyId).toBe('ASIAFAKE3');
    expect(fake.requests).toHaveLength(3);
    const retries = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes('retrying'));
    expect(retries.map((l) => l.attempt)).toEqual([1, 2]);
    expect(retries.every((l) => l.retryInMs >= 1 && l.retryInMs <= 50)).toBe(true);
  });

  it('gives up after the configured attempts with a retryable typed error', async () => {
    await startFake();
    fake.answer = () => ({ status: 500, body: { message: 'Internal failure' } });
    const err = (await provider({ attempts: 3 })().catch((e: unknown) => e)) as TidegateError;
    expect(isTidegateError(err, 'ERR_AWS_CREDENTIALS')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/answered HTTP 500 \(Internal failure\)/);
    expect(fake.requests).toHaveLength(3);
  });

  it('does not retry a refusal that needs an operator (HTTP 403), and says what to check', async () => {
    await startFake();
    fake.answer = () => ({ status: 403, body: { message: 'Access Denied' } });
    const err = (await provider({ attempts: 5 })().catch((e: unknown) => e)) as TidegateError;
    expect(isTidegateError(err, 'ERR_AWS_CREDENTIALS')).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/HTTP 403 \(Access Denied\); check that the certificate is active and attached to thing "gateway-thing-7".*iot:AssumeRoleWithCertificate on role alias "tidegate-kinesis"/);
    expect(fake.requests).toHaveLength(1);
  });

  it('rejects an answer without usable credentials', async () => {
    await startFake();
    fake.answer = () => ({ status: 200, body: { credentials: { accessKeyId: 'ASIAX', expiration: 'soon' } } });
    const err = (await provider({ attempts: 1 })().catch((e: unknown) => e)) as TidegateError;
    expect(isTidegateError(err, 'ERR_AWS_CREDENTIALS')).toBe(true);
    expect(err.message).toMatch(/without usable credentials/);
  });

  it('bounds each request with a timeout', async () => {
    await startFake();
    fake.answer = () => ({ status: 200, body: {}, silent: true });
    const started = Date.now();
    const err = (await provider({ attempts: 2, requestTimeoutMs: 300 })().catch((e: unknown) => e)) as TidegateError;
    expect(isTidegateError(err, 'ERR_AWS_CREDENTIALS')).toBe(true);
    expect(err.message).toMatch(/did not answer within 300 ms/);
    expect(fake.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops waiting when its signal aborts (shutdown)', async () => {
    await startFake();
    fake.answer = () => ({ status: 200, body: {}, silent: true });
    const abort = new AbortController();
    const pending = provider({ signal: abort.signal, requestTimeoutMs: 30_000 })().catch((e: unknown) => e);
    await waitFor(() => fake.requests.length === 1);
    abort.abort();
    expect(isTidegateError(await pending, 'ERR_ABORTED')).toBe(true);
  });

  it('keeps using still-valid credentials when a renewal fails, and renews on a later call', async () => {
    await startFake();
    let clock = Date.parse('2026-11-28T10:00:00Z');
    let failing = false;
    fake.answer = (n) => (failing ? { status: 503, body: { message: 'down' } } : { status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(clock + 60 * MINUTE)) });
    const get = provider({ now: () => clock, attempts: 2 });
    expect((await get()).accessKeyId).toBe('ASIAFAKE1');
    clock += 57 * MINUTE;
    failing = true;
    expect((await get()).accessKeyId).toBe('ASIAFAKE1');
    expect(logLines.some((l) => l.includes('using the current ones until they expire'))).toBe(true);
    failing = false;
    expect((await get()).accessKeyId).toBe('ASIAFAKE4');
    clock += 4 * MINUTE; // expired, and renewal fails: an error, not expired credentials
    failing = true;
    const fresh = provider({ now: () => clock, attempts: 1 });
    await expect(fresh()).rejects.toMatchObject({ code: 'ERR_AWS_CREDENTIALS' });
  });

  it('fails the handshake with a certificate the endpoint does not trust, as a retryable error', async () => {
    await startFake();
    const other = await TestPki.create(temp.dir, 'unregistered CA');
    const stranger = await other.clientCert('stranger');
    const [cert, key] = await Promise.all([readFile(stranger.certFile), readFile(stranger.keyFile)]);
    const err = (await provider({ tls: { ...tlsFiles, cert, key }, attempts: 1 })().catch((e: unknown) => e)) as TidegateError;
    expect(isTidegateError(err, 'ERR_AWS_CREDENTIALS')).toBe(true);
    expect(err.message).toMatch(/request to AWS IoT credentials provider 127\.0\.0\.1:\d+ failed/);
    expect(fake.requests).toHaveLength(0);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('kinesis.credentials config', () => {
  const iot = { endpoint: 'c2example.credentials.iot.eu-west-1.amazonaws.com', roleAlias: 'tidegate-kinesis', thingName: 'gw-1', certFile: 'c.pem', keyFile: 'k.pem' };

  it('accepts source: iot with its block, and defaults to the standard chain when absent', () => {
    expect(validateConfig({ kinesis: { credentials: { source: 'iot', iot } } }, 'test').kinesis.credentials?.iot?.roleAlias).toBe('tidegate-kinesis');
    expect(validateConfig({}, 'test').kinesis.credentials).toBeUndefined();
  });

  it('refuses source: iot without the iot block, an iot block that would be ignored, and an endpoint given as a URL', () => {
    expect(() => validateConfig({ kinesis: { credentials: { source: 'iot' } } }, 'test')).toThrow(/kinesis\.credentials\.iot: source: iot needs the iot block/);
    expect(() => validateConfig({ kinesis: { credentials: { source: 'chain', iot } } }, 'test')).toThrow(/kinesis\.credentials\.source: an iot block is set but source is chain/);
    expect(() => validateConfig({ kinesis: { credentials: { source: 'iot', iot: { ...iot, endpoint: 'https://x.example.com/' } } } }, 'test')).toThrow(/kinesis\.credentials\.iot\.endpoint: a host name, optionally with :port/);
  });
});
