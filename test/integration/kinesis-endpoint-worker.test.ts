import { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';
import { awsKinesisEndpoint, signingRegionOf } from '../../src/sinks/kinesis/aws-endpoint.js';
import { classifyCallError } from '../../src/sinks/kinesis/classify.js';

/** The region the SDK's own client signs for. */
async function sdkSigningRegion(region: string): Promise<string> {
  const client = new KinesisClient({ region });
  try {
    return await client.config.region();
  } finally {
    client.destroy();
  }
}

/** What the SDK's own client resolves in this process, the way the gateway resolved it before the worker. */
async function sdkEndpoint(region: string): Promise<string> {
  const client = new KinesisClient({ region });
  try {
    const c = client.config;
    const [r, fips, dual] = await Promise.all([c.region(), c.useFipsEndpoint(), c.useDualstackEndpoint()]);
    return c.endpointProvider({ Region: r, UseFIPS: fips, UseDualStack: dual, OperationType: 'data' }).url.href;
  } finally {
    client.destroy();
  }
}

describe('Kinesis endpoint from the SDK\'s rules, in a worker', () => {
  const NAMES = ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] as const;
  const saved = new Map(NAMES.map((n) => [n, process.env[n]]));
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('resolves what the SDK client resolves, across partitions', async () => {
    delete process.env.AWS_USE_FIPS_ENDPOINT;
    delete process.env.AWS_USE_DUALSTACK_ENDPOINT;
    for (const region of ['eu-central-1', 'cn-north-1', 'us-gov-west-1']) {
      const url = await awsKinesisEndpoint(region, AbortSignal.timeout(20_000));
      expect(url.href).toBe(await sdkEndpoint(region));
      expect(signingRegionOf(region)).toBe(region);
      expect(url.protocol).toBe('https:');
      expect(url.hostname).toContain(region);
    }
  });

  it('reads FIPS and dual-stack from the environment, as the SDK does', async () => {
    process.env.AWS_USE_FIPS_ENDPOINT = 'true';
    process.env.AWS_USE_DUALSTACK_ENDPOINT = 'true';
    const url = await awsKinesisEndpoint('us-east-1', AbortSignal.timeout(20_000));
    expect(url.href).toBe(await sdkEndpoint('us-east-1'));
    expect(url.hostname).toMatch(/^kinesis-fips\./);
  });

  it('signs a FIPS pseudo-region for its real region, and takes an endpoint configured for the service first, as the SDK does', async () => {
    for (const name of NAMES) delete process.env[name];
    const fips = await awsKinesisEndpoint('fips-us-east-1', AbortSignal.timeout(20_000));
    expect(fips.href).toBe(await sdkEndpoint('fips-us-east-1'));
    expect(fips.hostname).toMatch(/^kinesis-fips\.us-east-1\./);
    expect(signingRegionOf('fips-us-east-1')).toBe('us-east-1');
    expect([signingRegionOf('us-gov-west-1-fips'), signingRegionOf('fips-aws-global'), signingRegionOf('eu-west-1')]).toEqual(['us-gov-west-1', 'us-east-1', 'eu-west-1']);
    for (const r of ['fips-us-east-1', 'us-gov-west-1-fips', 'fips-aws-global', 'eu-west-1']) expect(signingRegionOf(r)).toBe(await sdkSigningRegion(r));

    process.env.AWS_ENDPOINT_URL_KINESIS = 'http://127.0.0.1:4567/vpce/';
    expect((await awsKinesisEndpoint('eu-west-1', AbortSignal.timeout(20_000))).href).toBe('http://127.0.0.1:4567/vpce/');
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
    expect((await awsKinesisEndpoint('eu-west-1', AbortSignal.timeout(20_000))).href).toBe(await sdkEndpoint('eu-west-1'));
  });

  it('passes on why the rules refuse a region, as an operator\'s problem, and ends at once when aborted', async () => {
    const refused = await awsKinesisEndpoint('not a region!', AbortSignal.timeout(20_000)).then(() => null, (err: unknown) => err);
    expect(refused).toBeInstanceOf(Error);
    expect(classifyCallError(refused)).toMatchObject({ kind: 'operator', code: 'EndpointError' });
    expect((refused as Error).message).toMatch(/^no Kinesis endpoint for kinesis\.region "not a region!": .*not a valid hostname/);

    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    await expect(awsKinesisEndpoint('eu-west-1', controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    const late = new AbortController();
    const pending = awsKinesisEndpoint('eu-west-1', late.signal);
    late.abort(new Error('stopping'));
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
