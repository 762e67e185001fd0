import { z } from 'zod';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SET_BY_TIDEGATE = new Set(['content-type', 'idempotency-key', 'content-length', 'host']);

/**
 * Header names as HTTP defines them (RFC 9110 token); the ones tidegate sets itself are refused. Checked over
 * the whole map rather than as the record's key schema, so each problem names the header (a key schema's
 * failure reads only "Invalid key in record").
 */
function refineHeaderNames(headers: Record<string, string>, ctx: z.RefinementCtx): void {
  for (const name of Object.keys(headers)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'an HTTP header name (letters, digits and !#$%&\'*+.^_`|~-)' });
    else if (SET_BY_TIDEGATE.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'set by tidegate itself' });
  }
}

/** The optional HTTP webhook of alarm notifications (`alarms.notify.webhook`). */
export const webhookSchema = z
  .strictObject({
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'an http:// or https:// URL')
      .describe('Where each alarm transition is POSTed as JSON (the alarm record, as the stream carries it).'),
    timeoutMs: z.number().int().min(100).max(120_000).default(5_000).describe('How long (ms) one request may take before it counts as failed (reason timeout) and is retried. Default 5000.'),
    headers: z
      .record(z.string(), z.string().max(8_192))
      .superRefine(refineHeaderNames)
      .optional()
      .describe('Extra request headers, for example `Authorization: Bearer <token>`. Their values are never logged. Content-Type and Idempotency-Key are set by tidegate.'),
    retry: z
      .strictObject({
        baseDelayMs: z.number().int().min(10).max(600_000).default(1_000).describe('First retry delay (ms) after a failed request; doubles per failure (with jitter) up to maxDelayMs. Default 1000.'),
        maxDelayMs: z.number().int().min(10).max(3_600_000).default(60_000).describe('Longest delay (ms) between retries. Default 60000.'),
      })
      .refine((r) => r.maxDelayMs >= r.baseDelayMs, { message: 'maxDelayMs must be at least baseDelayMs', path: ['maxDelayMs'] })
      .default({ baseDelayMs: 1_000, maxDelayMs: 60_000 })
      .describe('Retries of failed requests (timeouts, connection errors, 408, 429, 5xx).'),
    maxOutbox: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe(
        'Notifications kept in the buffer\'s outbox until the webhook accepts them. When full, the OLDEST waiting notification is dropped for each new one (counted in alarm_webhook_outbox_dropped_total): the newest transitions say what is raised now. Default 10000.',
      ),
  })
  .describe('POST each alarm transition to an HTTP endpoint, kept in a durable outbox until it answers 2xx (at least once, with an Idempotency-Key header).');

export type WebhookConfig = z.infer<typeof webhookSchema>;
