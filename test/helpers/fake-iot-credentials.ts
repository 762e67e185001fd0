import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertFiles, TestPki } from './test-pki.js';

export interface IotCredentialsRequest {
  method: string;
  path: string;
  thingName: string | undefined;
  /** Subject CN of the client certificate the server verified. */
  clientCn: string | null;
}

export interface FakeAnswer {
  status: number;
  body: unknown;
  /** Resolve this to release the answer (tests of concurrency hold it back). */
  hold?: Promise<void>;
  /** Never answer (tests of timeouts). */
  silent?: boolean;
}

/**
 * A hand-written stand-in for the AWS IoT credentials provider endpoint, for tests of the provider only:
 * HTTPS with mutual TLS (client certificates must chain to the test CA, as AWS requires a registered
 * certificate), recording each request. By default the n-th request (from 1) gets access key `ASIAFAKE<n>`.
 */
export class FakeIotCredentialsEndpoint {
  readonly requests: IotCredentialsRequest[] = [];
  /** What the n-th request (from 1) gets; replace it to script failures. */
  answer: (n: number) => FakeAnswer = (n) => ({ status: 200, body: FakeIotCredentialsEndpoint.credentials(n, new Date(Date.now() + 60 * 60_000)) });
  private server: https.Server | null = null;

  static credentials(n: number, expiration: Date): unknown {
    return { credentials: { accessKeyId: `ASIAFAKE${n}`, secretAccessKey: `fake-secret-${n}-do-not-log`, sessionToken: `fake-session-token-${n}-do-not-log`, expiration: expiration.toISOString() } };
  }

  async start(pki: TestPki, server: CertFiles): Promise<string> {
    const [cert, key, ca] = await Promise.all([readFile(server.certFile), readFile(server.keyFile), readFile(pki.ca.certFile)]);
    this.server = https.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const cn = socket.getPeerCertificate().subject?.CN;
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', thingName: req.headers['x-amzn-iot-thingname'] as string | undefined, clientCn: typeof cn === 'string' ? cn : null });
      const answer = this.answer(this.requests.length);
      if (answer.silent) return;
      void (answer.hold ?? Promise.resolve()).then(() => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    this.server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => this.server!.once('listening', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
