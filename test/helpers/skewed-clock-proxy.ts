import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a Kinesis emulator whose clock runs `skewMs` ahead of this machine's, and which
 * refuses SigV4 requests signed more than 5 minutes away from its time the way AWS does
 * (400 InvalidSignatureException "Signature expired"), with its own time in the Date header of every reply.
 */
export class SkewedClockProxy {
  private server: http.Server | null = null;
  refused = 0;
  forwarded = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly skewMs: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const now = Date.now() + this.skewMs;
    const date = new Date(now).toUTCString();
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    const signedAt = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
    if (!Number.isFinite(signedAt) || Math.abs(signedAt - now) > 5 * 60_000) {
      this.refused += 1;
      req.resume();
      const body = JSON.stringify({ __type: 'InvalidSignatureException', message: `Signature expired: ${amzDate} is now earlier than ${new Date(now - 5 * 60_000).toISOString()}` });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', date, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    this.forwarded += 1;
    const upstream = http.request({ host: '127.0.0.1', port: this.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, { ...up.headers, date });
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
