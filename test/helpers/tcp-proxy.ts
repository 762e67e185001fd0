import net from 'node:net';
import { once } from 'node:events';

/**
 * A loopback TCP proxy that can take its upstream away: `cut()` closes every connection and resets new ones
 * as they arrive (callers see network errors), `restore()` forwards again. The listener itself stays open:
 * closing it would free the port for the next ephemeral outgoing connection, and listening again could fail.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.isCut) {
        client.on('error', () => undefined);
        client.resetAndDestroy();
        return;
      }
      const upstream = net.connect(this.upstreamPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async cut(): Promise<void> {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
  }

  async restore(): Promise<void> {
    this.isCut = false;
  }

  /** Stops listening for good. */
  async close(): Promise<void> {
    await this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}
