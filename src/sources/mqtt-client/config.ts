import { z } from 'zod';
import { positiveInt } from '../../config/primitives.js';

/** The `siteBrokers` slice: site brokers tidegate subscribes to as an MQTT client (see docs/guides/site-brokers.md). */

/**
 * An MQTT topic filter as a SUBSCRIBE carries it ([MQTT-4.7.1]): `+` fills a whole level, `#` only the last
 * one; an MQTT 5 shared subscription is `$share/<group>/<filter>`, the group a non-empty level without
 * wildcards ([MQTT5-4.8.2]).
 */
export function topicFilterProblem(filter: string): string | null {
  let levels = filter.split('/');
  if (levels[0] === '$share') {
    if (levels.length < 3) return 'a shared subscription is $share/<group>/<filter>';
    if (levels[1] === '' || /[+#]/.test(levels[1]!)) return 'the share group of $share/<group>/<filter> must be a non-empty name without "+" or "#"';
    levels = levels.slice(2);
  }
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be a whole level and the last one';
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return null;
}

export const siteSubscriptionSchema = z
  .object({
    topic: z
      .string()
      .min(1)
      .max(65_535)
      .superRefine((t, ctx) => {
        const problem = topicFilterProblem(t);
        if (problem) ctx.addIssue({ code: 'custom', message: `topic filter "${t}": ${problem}` });
      })
      .describe('Topic filter, e.g. `devices/#`, or an MQTT 5 shared subscription `$share/<group>/devices/#` to split the traffic among several gateways.'),
    qos: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .default(1)
      .describe('The maximum QoS the site broker delivers with. QoS 1 and 2 are acknowledged only after the durable commit; QoS 0 can be lost in transit.'),
  })
  .strict();

export const siteBrokerSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'only letters, digits, "_" and "-"')
      .describe('Names the source: its readings count under source="mqtt_client:<name>", and its password variable is TIDEGATE_SITE_BROKER_<NAME>_PASSWORD.'),
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^/]+/, 'must start with mqtt:// or mqtts:// followed by a host')
      .refine((u) => URL.canParse(u), { message: 'is not a valid URL' })
      .refine((u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''), {
        message: 'must not carry credentials: set username and password (or its environment override) instead',
      })
      .describe('The broker, as `mqtt://host:port` or `mqtts://host:port` (TLS). Credentials belong in username/password, not in the URL.'),
    clientId: z
      .string()
      .min(1)
      .max(256)
      .describe('Stable client id, unique per gateway: the broker keeps the session (subscriptions, unacknowledged messages) under it while tidegate is away.'),
    subscriptions: z.array(siteSubscriptionSchema).min(1).describe('What to subscribe to, each a topic filter and a QoS.'),
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(4)
      .describe('4 = MQTT 3.1.1, 5 = MQTT 5 (needed for $share subscriptions and Receive Maximum).'),
    sessionExpirySeconds: z
      .number()
      .int()
      .min(1)
      .max(0xffffffff)
      .default(604_800)
      .describe('MQTT 5 only: seconds the broker keeps the session after a disconnect (0xFFFFFFFF = forever). Long enough to cover the longest outage you want no loss over.'),
    username: z.string().min(1).optional().describe('Username sent in CONNECT.'),
    password: z.string().min(1).optional().describe('Password sent in CONNECT; better set as TIDEGATE_SITE_BROKER_<NAME>_PASSWORD (the name upper-cased, "-" as "_"). Never logged.'),
    tls: z
      .object({
        caFile: z.string().min(1).optional().describe("PEM CA bundle to verify the broker with; unset: the system's CAs."),
        certFile: z.string().min(1).optional().describe('PEM client certificate, for brokers that authenticate clients by certificate (with keyFile).'),
        keyFile: z.string().min(1).optional().describe('PEM private key of certFile.'),
        rejectUnauthorized: z.boolean().default(true).describe('false accepts any server certificate: for test brokers only.'),
      })
      .strict()
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together' })
      .optional()
      .describe('TLS settings for an mqtts:// url.'),
    topicTemplate: z
      .string()
      .default('devices/{deviceId}/#')
      .refine((t) => t.split('/').includes('{deviceId}'), { message: 'must contain a {deviceId} level' })
      .describe("How the device id is taken from a message's topic (same syntax as mqtt.topicTemplate)."),
    maxPayloadBytes: positiveInt.max(256 * 1024 * 1024).default(256 * 1024).describe('Largest payload kept, in bytes; larger ones are dead-lettered as payload_too_large.'),
    maxInFlight: positiveInt
      .max(65_535)
      .default(1_000)
      .describe(
        'Messages being stored at once. When full, tidegate reads nothing more from the connection until one is committed (the broker keeps the rest queued); with MQTT 5 it is also the Receive Maximum announced.',
      ),
    connectTimeoutMs: positiveInt.max(300_000).default(10_000).describe("Milliseconds to wait for the broker's CONNACK (and SUBACK)."),
    keepaliveSeconds: z.number().int().min(0).max(65_535).default(30).describe('MQTT keepalive in seconds: how soon a dead connection is noticed (0: never).'),
    reconnect: z
      .object({
        minDelayMs: positiveInt.max(600_000).default(500).describe('First wait before reconnecting, in milliseconds.'),
        maxDelayMs: positiveInt.max(3_600_000).default(30_000).describe('Longest wait between reconnect attempts, in milliseconds.'),
      })
      .strict()
      .refine((r) => r.minDelayMs <= r.maxDelayMs, { message: 'minDelayMs must not exceed maxDelayMs' })
      .default({ minDelayMs: 500, maxDelayMs: 30_000 })
      .describe('Jittered exponential backoff between reconnect attempts.'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.tls && !b.url.startsWith('mqtts://')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need an mqtts:// url' });
    if (b.protocolVersion === 4 && b.subscriptions.some((s) => s.topic.startsWith('$share/'))) {
      // mosquitto accepts $share with 3.1.1 too, but it is an MQTT 5 feature; say so rather than depend on a broker's leniency.
      ctx.addIssue({ code: 'custom', path: ['protocolVersion'], message: 'shared subscriptions ($share/...) are MQTT 5: set protocolVersion: 5' });
    }
  });

/** Names must be unique (each is its own source), and so must the client id per broker (a second connection with the same id takes the session over, [MQTT-3.1.4-2]). */
export const siteBrokersSchema = z
  .array(siteBrokerSchema)
  .default([])
  .superRefine((brokers, ctx) => {
    const names = new Set<string>();
    const sessions = new Set<string>();
    brokers.forEach((b, i) => {
      if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `name "${b.name}" is used twice` });
      names.add(b.name);
      const session = `${b.url}\n${b.clientId}`;
      if (sessions.has(session)) ctx.addIssue({ code: 'custom', path: [i, 'clientId'], message: `clientId "${b.clientId}" is used twice for ${b.url}` });
      sessions.add(session);
    });
  })
  .describe(
    'Site brokers tidegate subscribes to as an MQTT client, each its own source. Readings are acknowledged to the broker (PUBACK, PUBREC) only once they are on disk. See docs/guides/site-brokers.md.',
  );

export type SiteBrokerConfig = z.infer<typeof siteBrokerSchema>;
