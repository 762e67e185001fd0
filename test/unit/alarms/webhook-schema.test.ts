import { describe, expect, it } from 'vitest';
import { alarmsSchema } from '../../../src/analytics/alarms/schema.js';

const parse = (webhook: unknown) => alarmsSchema.safeParse({ notify: { webhook } });
const problems = (webhook: unknown) => {
  const r = parse(webhook);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('alarms.notify.webhook config', () => {
  it('fills the defaults and leaves the broker notification as it was', () => {
    const r = parse({ url: 'https://alarms.example.com/hook' });
    expect(r.success).toBe(true);
    expect(r.data!.notify).toMatchObject({ enabled: true, topicPrefix: 'tidegate/alarms', webhook: { url: 'https://alarms.example.com/hook', timeoutMs: 5_000, retry: { baseDelayMs: 1_000, maxDelayMs: 60_000 }, maxOutbox: 10_000 } });
    expect(alarmsSchema.parse({}).notify.webhook).toBeUndefined();
  });

  it('refuses what cannot work', () => {
    expect(problems({ url: 'ftp://alarms.example.com/' })).toEqual([expect.stringMatching(/^notify\.webhook\.url: an http:\/\/ or https:\/\/ URL/)]);
    expect(problems({ url: 'https://a.example/', retry: { baseDelayMs: 5_000, maxDelayMs: 1_000 } })).toEqual([expect.stringMatching(/^notify\.webhook\.retry\.maxDelayMs: maxDelayMs must be at least baseDelayMs/)]);
    expect(problems({ url: 'https://a.example/', headers: { 'Idempotency-Key': 'x' } })).toEqual([expect.stringMatching(/set by tidegate itself/)]);
    expect(problems({ url: 'https://a.example/', headers: { 'bad header': 'x' } })).toEqual([expect.stringMatching(/an HTTP header name/)]);
    expect(problems({ url: 'https://a.example/', maxOutbox: 0 })).toHaveLength(1);
    expect(problems({ url: 'https://a.example/', retries: 3 })).toHaveLength(1);
  });
});
