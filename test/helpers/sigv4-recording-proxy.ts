import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SignedRequest {
  /** The access key id from the SigV4 Authorization header (`Credential=<id>/<date>/<region>/<service>/aws4_request`). */
  accessKeyId: string | null;
  sessionToken: string | null;
  target: string | null;
}

/**
 * A loopback HTTP proxy in front of a Kinesis-compatible server that records who signed each request,
 * so a test can see which credentials the SDK used (kinesalite itself accepts any signature).
 */
export class SigV4RecordingProxy {
  readonly requests: SignedRequest[] = [];
  private server: http.Server | null = null;

  constructor(private readonly upstreamPort: number) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      this.requests.push({
        accessKeyId: /Credential=([^/]+)\//.exec(auth)?.[1] ?? null,
        sessionToken: (req.headers['x-amz-security-token'] as string | undefined) ?? null,
        target: (req.headers['x-amz-target'] as string | undefined) ?? null,
      });
      const upstream = http.request({ host: '127.0.0.1', port: this.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    this.server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => this.server!.once('listening', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
