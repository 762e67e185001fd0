import type { OutboxEntry } from '../../buffer/outbox.js';

/** Why a request failed in a way worth retrying: the bounded label set of alarm_webhook_failures_total. */
export type WebhookFailureReason = 'timeout' | 'connection' | 'status';
export const WEBHOOK_FAILURE_REASONS: readonly WebhookFailureReason[] = ['timeout', 'connection', 'status'];

/** What became of one POST. */
export type PostOutcome =
  | { kind: 'sent'; status: number }
  | { kind: 'failed'; reason: WebhookFailureReason; status?: number; detail: string }
  | { kind: 'rejected'; status: number }
  | { kind: 'aborted' };

export interface PostTarget {
  url: string;
  timeoutMs: number;
  headers?: Readonly<Record<string, string>>;
}

/**
 * POSTs one outbox entry: the alarm record as the body, its id as the Idempotency-Key (the same on every
 * resend, across restarts, so a receiver can drop what it already has). Never throws: every end is an outcome.
 *
 * 2xx is accepted. 408 and 429 mean "later", 5xx a receiver in trouble, 1xx/3xx (redirects are not followed:
 * a notification is not re-sent to a place the config did not name) an endpoint that is not what was meant
 * for now; all of those are retried. Any other 4xx says the request itself is refused, so resending the same
 * bytes cannot succeed: it is rejected for good.
 */
export async function postEntry(target: PostTarget, entry: OutboxEntry, stop: AbortSignal): Promise<PostOutcome> {
  if (stop.aborted) return { kind: 'aborted' };
  const timeout = AbortSignal.timeout(target.timeoutMs);
  // One controller per request, tied to the long-lived stop signal by a listener removed afterwards
  // (AbortSignal.any would stay referenced from `stop` on Node 20, nodejs/node issue 55351).
  const request = new AbortController();
  const onAbort = (): void => request.abort();
  stop.addEventListener('abort', onAbort, { once: true });
  timeout.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers: { ...target.headers, 'content-type': 'application/json', 'idempotency-key': entry.id },
      body: entry.body,
      redirect: 'manual',
      signal: request.signal,
    });
    // The answer's body is not needed; reading it to the end lets the connection be reused.
    await response.arrayBuffer().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: 'sent', status };
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'rejected', status };
    return { kind: 'failed', reason: 'status', status, detail: `HTTP ${status}` };
  } catch (err) {
    if (stop.aborted) return { kind: 'aborted' };
    if (timeout.aborted) return { kind: 'failed', reason: 'timeout', detail: `no answer within ${target.timeoutMs} ms` };
    return { kind: 'failed', reason: 'connection', detail: connectionDetail(err) };
  } finally {
    stop.removeEventListener('abort', onAbort);
    timeout.removeEventListener('abort', onAbort);
  }
}

/** fetch reports network errors as "fetch failed" with the system error as the cause. */
function connectionDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** The URL for logs: origin and path only, since user info or a query string may carry a secret. */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
