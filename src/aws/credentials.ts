import type { AwsCredentialsConfig } from './config.js';
import type { Logger } from '../core/logger.js';
import { loadTlsMaterial } from '../core/tls-files.js';
import type { AwsCredentials, AwsCredentialsProvider } from './credential-types.js';
import { iotCredentialsProvider } from './iot-credentials.js';

export type { AwsCredentials, AwsCredentialsProvider };

/**
 * The provider a `credentials` config block asks for, or undefined for the standard AWS chain, which every
 * SDK client builds by itself (environment, SSO, shared profile, credential_process, web identity token,
 * ECS/EKS container endpoint, EC2 instance metadata: @aws-sdk/credential-provider-node's defaultProvider).
 * Certificate files are read and checked here, at start; credentials are fetched on first use, so a
 * gateway without uplink still starts and buffers.
 */
export async function credentialsFromConfig(
  config: AwsCredentialsConfig | undefined,
  where: string,
  logger: Logger,
  signal: AbortSignal,
): Promise<AwsCredentialsProvider | undefined> {
  if (!config || config.source === 'chain' || !config.iot) return undefined;
  const iot = config.iot;
  const material = await loadTlsMaterial(iot, `${where}.iot`);
  logger.info({ endpoint: iot.endpoint, roleAlias: iot.roleAlias, thingName: iot.thingName, certificate: material.subject, validTo: material.validTo.toISOString() }, 'AWS credentials come from the AWS IoT credentials provider');
  return iotCredentialsProvider({ endpoint: iot.endpoint, roleAlias: iot.roleAlias, thingName: iot.thingName, tls: material, logger, signal });
}

/**
 * The standard AWS chain as an SDK client builds it for itself (@aws-sdk/credential-provider-node's
 * defaultProvider: it caches what it found and renews it before it expires), for the direct Kinesis port,
 * which has no SDK client. The chain's modules load on the first call, when a request is first signed, as
 * they do in a client; a chain that failed to load is loaded again on the next call.
 *
 * The chain's first link, long-term keys in the environment, is answered here without loading it: the
 * chain is about 1.7 MiB of live heap (issue: Pi-class efficiency), and keys in the service's environment
 * file are the common case on a gateway. The same rule as the chain's: with AWS_PROFILE set the environment's
 * keys are skipped, and keys with an expiry (AWS_CREDENTIAL_EXPIRATION) are left to the chain, which renews.
 */
export function defaultCredentialChain(region: string, env: NodeJS.ProcessEnv = process.env): AwsCredentialsProvider {
  let chain: Promise<AwsCredentialsProvider> | null = null;
  return async () => {
    const fromEnvironment = environmentKeys(env);
    if (fromEnvironment) return fromEnvironment;
    // The region is the one nested clients (STS for a web identity or an assumed role, SSO) call in.
    chain ??= import('@aws-sdk/credential-provider-node').then(
      ({ defaultProvider }) => defaultProvider({ parentClientConfig: { region } }),
      (err: unknown) => {
        chain = null;
        throw err;
      },
    );
    return (await chain)();
  };
}

function environmentKeys(env: NodeJS.ProcessEnv): AwsCredentials | null {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (env.AWS_PROFILE || !accessKeyId || !secretAccessKey || env.AWS_CREDENTIAL_EXPIRATION) return null;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/**
 * Whether a call failed because no credentials could be had: the standard chain found none
 * (CredentialsProviderError), or the AWS IoT credentials provider could not hand any out. Nothing can be
 * signed until an operator fixes it, so health says so at once instead of after a run of retries.
 */
export function isCredentialsError(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'CredentialsProviderError' || e?.code === 'ERR_AWS_CREDENTIALS';
}

/** What to tell the operator when credentials cannot be loaded. */
export const CREDENTIALS_ACTION =
  'AWS credentials cannot be loaded: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, attach an instance or task role, or configure kinesis.credentials (AWS IoT credentials provider)';
