import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * A small Firehose-compatible endpoint for tests: it speaks the PutRecordBatch JSON protocol
 * (`X-Amz-Target: Firehose_20150804.PutRecordBatch`) and keeps what it accepted in memory. There is no Firehose
 * emulator to run offline, so this stands in for the service; the client side is the real AWS SDK.
 */
export class FirehoseFake {
  private server: http.Server | null = null;
  /** Accepted records by delivery stream, as they would be written to S3. */
  readonly delivered = new Map<string, Buffer[]>();
  /** Delivery streams that exist; others answer ResourceNotFoundException. */
  readonly streams = new Set<string>();
  calls = 0;
  /** Records refused with ServiceUnavailableException (per entry, HTTP 200), as a share of every call. */
  failShare = 0;
  private counter = 0;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.answer(String(req.headers['x-amz-target'] ?? ''), Buffer.concat(chunks).toString('utf8'), res));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  records(stream: string): Buffer[] {
    return this.delivered.get(stream) ?? [];
  }

  private answer(target: string, body: string, res: http.ServerResponse): void {
    const reply = (status: number, doc: object): void => {
      const text = JSON.stringify(doc);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (target !== 'Firehose_20150804.PutRecordBatch') return reply(400, { __type: 'UnknownOperationException', message: `not supported here: ${target}` });
    this.calls += 1;
    const request = JSON.parse(body) as { DeliveryStreamName: string; Records: Array<{ Data: string }> };
    if (!this.streams.has(request.DeliveryStreamName)) {
      return reply(400, { __type: 'ResourceNotFoundException', message: `Firehose ${request.DeliveryStreamName} under account 000000000000 not found.` });
    }
    let failed = 0;
    const responses = request.Records.map((r) => {
      this.counter += 1;
      if (this.failShare > 0 && (this.counter * this.failShare) % 1 < this.failShare) {
        failed += 1;
        return { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };
      }
      (this.delivered.get(request.DeliveryStreamName) ?? this.delivered.set(request.DeliveryStreamName, []).get(request.DeliveryStreamName)!).push(Buffer.from(r.Data, 'base64'));
      return { RecordId: `r-${this.counter}` };
    });
    reply(200, { FailedPutCount: failed, Encrypted: false, RequestResponses: responses });
  }
}
