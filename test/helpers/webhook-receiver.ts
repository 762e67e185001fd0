import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request the receiver got, with what it answered (null: it hung up or never answered). */
export interface ReceivedRequest {
  at: number;
  idempotencyKey: string;
  headers: IncomingMessage['headers'];
  body: string;
  status: number | null;
}

/** How the receiver answers a request: a status, `hang` (never answer) or `destroy` (drop the connection). */
export type Answer = number | 'hang' | 'destroy';

/**
 * A real HTTP server on 127.0.0.1 standing in for a webhook receiver. It answers each request as `answer`
 * says (changeable while it runs) and records every request, so a test can check what arrived and when.
 */
export async function startWebhookReceiver(answer: (req: ReceivedRequest, index: number) => Answer, port = 0) {
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  let respond = answer;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: ReceivedRequest = { at: Date.now(), idempotencyKey: String(req.headers['idempotency-key'] ?? ''), headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: null };
      const how = respond(entry, requests.length);
      requests.push(entry);
      if (how === 'destroy') req.socket.destroy();
      else if (how !== 'hang') {
        entry.status = how;
        res.writeHead(how, { 'content-type': 'text/plain' }).end('ok');
      }
      for (const wake of [...waiters]) wake();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    requests,
    port: address.port,
    url: `http://127.0.0.1:${address.port}/hook`,
    setAnswer(next: (req: ReceivedRequest, index: number) => Answer) {
      respond = next;
    },
    /** Resolves once `done(requests)` holds; rejects after `timeoutMs` (woken by each request, no polling sleeps). */
    waitFor(done: (r: readonly ReceivedRequest[]) => boolean, timeoutMs = 10_000): Promise<void> {
      if (done(requests)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the webhook receiver did not see what was expected within ${timeoutMs} ms; it got ${JSON.stringify(requests.map((r) => [r.idempotencyKey, r.status]))}`));
        }, timeoutMs);
        const check = (): void => {
          if (!done(requests)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/** The keys the receiver accepted (answered 2xx), one per accepted request. */
export const acceptedKeys = (requests: readonly ReceivedRequest[]): string[] => requests.filter((r) => r.status !== null && r.status >= 200 && r.status < 300).map((r) => r.idempotencyKey);

/** Polls `check` until it holds or `timeoutMs` passes (for state outside the receiver: counters, the outbox). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
