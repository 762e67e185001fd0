import { z } from 'zod';

/** The `kinesis.credentials` slice: where the AWS credentials come from. */

/** The AWS IoT credentials provider: temporary credentials for a role alias, fetched with the device certificate. */
export const iotCredentialsSchema = z
  .object({
    endpoint: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name, optionally with :port (no scheme, no path)')
      .describe("The account's credentials-provider host (`aws iot describe-endpoint --endpoint-type iot:CredentialProvider`), optionally `host:port`."),
    roleAlias: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w=,@-]+$/, 'only letters, digits and "_=,@-"')
      .describe('The IoT role alias that points at the IAM role the gateway assumes (with kinesis:PutRecords on the stream).'),
    thingName: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[a-zA-Z0-9:_-]+$/, 'only letters, digits, ":", "_" and "-"')
      .describe('The thing the certificate is attached to (sent as the x-amzn-iot-thingname header).'),
    certFile: z.string().min(1).describe('PEM device certificate registered with AWS IoT.'),
    keyFile: z.string().min(1).describe('PEM private key of the device certificate.'),
    caFile: z.string().min(1).optional().describe("PEM CA for the endpoint's server certificate; unset: Node's bundled public CAs (Amazon Root CA 1 included)."),
  })
  .strict();

export const credentialsSchema = z
  .object({
    source: z
      .enum(['chain', 'iot'])
      .default('chain')
      .describe(
        '`chain`: the standard AWS credential chain (environment, SSO, shared profile, credential_process, web identity token, ECS/EKS container, EC2 instance role). `iot`: the AWS IoT credentials provider (no long-lived keys on the device).',
      ),
    iot: iotCredentialsSchema.optional().describe('The AWS IoT credentials provider; required with source: iot.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.source === 'iot' && !c.iot) ctx.addIssue({ code: 'custom', path: ['iot'], message: 'source: iot needs the iot block (endpoint, roleAlias, thingName, certFile, keyFile)' });
    if (c.source === 'chain' && c.iot) ctx.addIssue({ code: 'custom', path: ['source'], message: 'an iot block is set but source is chain, so it would be ignored: set source: iot to use it, or remove the iot block' });
  });

export type IotCredentialsConfig = z.infer<typeof iotCredentialsSchema>;
export type AwsCredentialsConfig = z.infer<typeof credentialsSchema>;
