/** AWS credentials as every SDK v3 client takes them (the shape of `AwsCredentialIdentity`). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** The shape of the SDK's `AwsCredentialIdentityProvider`: called whenever a client needs to sign. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;
