import { z } from 'zod';
import { port, positiveInt } from '../../config/primitives.js';

/** The `mqtt` slice: the embedded broker's listeners, authentication, ACL and connection limits. */

/** TLS on an MQTT listener (MQTT over TLS, conventionally port 8883). Paths are read when the gateway starts. */
export const listenerTlsSchema = z
  .object({
    certFile: z.string().min(1).describe('PEM server certificate, with its intermediate certificates after it. Read at start; a missing or mismatched file stops tidegate naming the listener and the file.'),
    keyFile: z.string().min(1).describe('Unencrypted PEM private key of the server certificate.'),
    caFile: z.string().min(1).optional().describe('PEM CA certificate(s) that client certificates must chain to. Required with requireClientCert.'),
    requireClientCert: z.boolean().default(false).describe('Mutual TLS: every client must present a certificate signed by caFile, or the handshake fails. Such a listener may bind a non-loopback address without allowAnonymous.'),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version accepted; TLS 1.0 and 1.1 are always refused. TLSv1.3 when every device supports it.'),
    identityFromCertificate: z.boolean().default(false).describe("With mutual TLS: the verified client certificate's subject CN is the device id of its readings (the topic's {deviceId} level is then not used, so a device cannot write as another)."),
    handshakeTimeoutMs: positiveInt.max(120_000).default(10_000).describe('Milliseconds a connection may take to finish its TLS handshake before it is closed.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.requireClientCert && !t.caFile) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'requireClientCert: true needs caFile, the CA that signs the device certificates' });
    }
    if (t.identityFromCertificate && !t.requireClientCert) {
      ctx.addIssue({ code: 'custom', path: ['identityFromCertificate'], message: 'identityFromCertificate needs requireClientCert: true (only a verified certificate can name a device)' });
    }
  });

export const listenerSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Address the listener binds. Anything but loopback needs client authentication or allowAnonymous: true.'),
    port: port.default(1883).describe('TCP port (1883 is MQTT, 8883 MQTT over TLS; 0 picks a free one).'),
    allowAnonymous: z
      .boolean()
      .optional()
      .describe(
        "Accept clients without a username on this listener. Unset: anonymous clients on loopback listeners only (mosquitto 2's rule); a non-loopback listener refuses to start unless it authenticates clients or sets this to true explicitly.",
      ),
    tls: listenerTlsSchema.optional().describe('Serve MQTT over TLS on this listener; unset: plain TCP.'),
  })
  .strict();

/** An MQTT topic filter that may hold `{username}` / `{clientId}` placeholders (see src/sources/mqtt-broker/acl.ts). */
const aclPattern = z
  .string()
  .min(1)
  .refine((p) => !/\{(?!username\}|clientId\})[^}]*\}/.test(p), { message: 'the only placeholders are {username} and {clientId}' })
  .refine((p) => p.split('/').every((level, i, all) => (level.includes('#') ? level === '#' && i === all.length - 1 : !level.includes('+') || level === '+')), {
    message: 'not an MQTT topic filter: "+" must be a whole level, "#" a whole last level [MQTT-4.7.1]',
  });

const aclRulesSchema = z
  .object({
    publish: z.array(aclPattern).optional().describe('Topic filters a client may publish to, with the placeholders {username} and {clientId}.'),
    subscribe: z.array(aclPattern).optional().describe('Topic filters a client may subscribe within: a subscription must lie inside one of them.'),
  })
  .strict();

export const mqttAuthSchema = z
  .object({
    usersFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Users file written by `tidegate passwd add|remove|list` (salted scrypt hashes, mode 0600), re-read when it changes. When set, every listener requires a username and password except those with allowAnonymous: true. Relative to the directory tidegate runs in.',
      ),
    acl: aclRulesSchema.default({}).describe('Rights of authenticated clients (the username is the device id). Unset lists default to mqtt.topicTemplate with {deviceId} replaced by {username}.'),
    anonymous: aclRulesSchema.default({}).describe('Rights of anonymous clients (on loopback without a users file, and on listeners with allowAnonymous: true). Unset lists default to ["#"] (every topic but $SYS/...); [] grants nothing.'),
  })
  .strict();

export const mqttLimitsSchema = z
  .object({
    connectTimeoutMs: positiveInt.max(300_000).default(10_000).describe('Milliseconds a connection may take to send a complete CONNECT before it is closed (slowloris).'),
    maxConnections: positiveInt.max(100_000).default(1_000).describe('Connections beyond this are closed as soon as they are accepted, counted in mqtt_refused_total.'),
    maxKeepaliveSeconds: positiveInt
      .max(65_535)
      .default(3_600)
      .describe('A keepalive of 0 (none) or above this, in seconds, is replaced by this; a connection silent for 1.5 times its keepalive is closed.'),
    maxTopicBytes: positiveInt.max(65_535).default(256).describe('Longest accepted topic (publish, subscribe, will), in UTF-8 bytes.'),
    maxTopicLevels: positiveInt.max(100).default(32).describe('Most levels in a topic or filter (aedes cannot go beyond 100).'),
    maxClientIdLength: positiveInt.max(65_535).default(128).describe('Longest accepted client id, in characters. Ids with "+", "#", "/" or NUL are always refused.'),
    publishRate: z
      .object({
        perSecond: positiveInt.max(1_000_000).describe('Sustained publishes per second per client.'),
        burst: positiveInt.max(1_000_000).describe('Publishes a client may send at once above the sustained rate (the token bucket size).'),
      })
      .strict()
      .optional()
      .describe('Per-client publish rate (token bucket). Beyond it acknowledgements are delayed (backpressure: the device keeps its readings), not refused. Unset: no limit.'),
  })
  .strict();

export const mqttSchema = z
  .object({
    listeners: z.array(listenerSchema).min(1).default([{ host: '127.0.0.1', port: 1883 }]).describe('Where the embedded MQTT broker listens; one entry per address and port.'),
    topicTemplate: z
      .string()
      .default('devices/{deviceId}/#')
      .refine((t) => t.split('/').includes('{deviceId}'), { message: 'must contain a {deviceId} level' })
      .describe('How the device id is taken from the topic: `{deviceId}` captures one level, `+` matches any one level, a trailing `#` any further levels.'),
    maxPayloadBytes: positiveInt
      .max(256 * 1024 * 1024)
      .default(256 * 1024)
      .describe('Largest accepted payload, in bytes; a larger PUBLISH is refused from its header, before the payload is read (the connection is closed, a dead letter counts it).'),
    auth: mqttAuthSchema.default(() => mqttAuthSchema.parse({})).describe('Authentication (users file) and access control (ACL) of the embedded broker.'),
    limits: mqttLimitsSchema.default(() => mqttLimitsSchema.parse({})).describe('Bounds on connections, topics and publish rates that keep a hostile or broken client from taking the broker down.'),
  })
  .strict()
  .describe('The embedded MQTT broker devices publish to.');

export type MqttConfig = z.infer<typeof mqttSchema>;
export type ListenerConfig = z.infer<typeof listenerSchema>;
export type ListenerTlsConfig = z.infer<typeof listenerTlsSchema>;
export type MqttAuthConfig = z.infer<typeof mqttAuthSchema>;
export type MqttLimitsConfig = z.infer<typeof mqttLimitsSchema>;
