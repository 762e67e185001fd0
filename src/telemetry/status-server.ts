import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describeError, TidegateError } from '../core/errors.js';
import type { Component, HealthReport } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import type { PrometheusExporter } from './prometheus.js';

export interface StatusServerOptions {
  host: string;
  port: number;
  exporter: PrometheusExporter;
  /** Health by progress: reasons the gateway is degraded, empty when all is well. */
  health: () => Promise<HealthReport & { oldestUndeliveredAgeMs: number | null }>;
  ready: () => { ready: boolean; reasons: string[] };
  /** What the dashboard shows, pushed to each `/events` client once a second. */
  snapshot: () => Promise<object>;
  logger: Logger;
}

// A bound on dashboard connections: each costs a snapshot a second.
const MAX_EVENT_CLIENTS = 20;

/**
 * `/metrics` (Prometheus text), `/healthz` (200 when readings make progress, 503 with the reasons when
 * not), `/readyz` (200 once the buffer is open and the listeners are up). Loopback by default.
 */
export class StatusServer implements Component {
  readonly id = 'status';
  private server: http.Server | null = null;
  private readonly eventClients = new Set<http.ServerResponse>();
  private ticker: NodeJS.Timeout | null = null;
  address: { host: string; port: number } | null = null;

  constructor(private readonly opts: StatusServerOptions) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      if ((req.url ?? '/').split('?')[0] === '/events') return this.subscribe(res);
      this.route(req.url ?? '/')
        .then(({ status, type, body }) => {
          res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`${describeError(err)}\n`);
        });
    });
    server.listen(this.opts.port, this.opts.host);
    try {
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
    } catch (err) {
      throw new TidegateError('ERR_LISTEN', `cannot serve status on ${this.opts.host}:${this.opts.port}: ${describeError(err)} (set status.port, or status.enabled: false)`, { cause: err });
    }
    this.server = server;
    this.address = { host: this.opts.host, port: (server.address() as AddressInfo).port };
    this.opts.logger.info(this.address, 'status server ready (/metrics, /healthz, /readyz)');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    if (this.ticker) clearInterval(this.ticker);
    for (const res of this.eventClients) res.end();
    this.eventClients.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(url: string): Promise<{ status: number; type: string; body: string }> {
    const path = url.split('?')[0];
    if (path === '/') return { status: 200, type: 'text/html; charset=utf-8', body: DASHBOARD_HTML };
    if (path === '/metrics') return { status: 200, type: this.opts.exporter.contentType, body: await this.opts.exporter.render() };
    if (path === '/healthz') {
      const h = await this.opts.health();
      return { status: h.status === 'ok' ? 200 : 503, type: 'application/json', body: `${JSON.stringify(h)}\n` };
    }
    if (path === '/readyz') {
      const r = this.opts.ready();
      return { status: r.ready ? 200 : 503, type: 'application/json', body: `${JSON.stringify(r)}\n` };
    }
    return { status: 404, type: 'text/plain', body: 'not found: try /, /metrics, /healthz or /readyz\n' };
  }

  /** Server-sent events: a snapshot now, then one a second from a single shared timer. */
  private subscribe(res: http.ServerResponse): void {
    if (this.eventClients.size >= MAX_EVENT_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`at most ${MAX_EVENT_CLIENTS} dashboards at once\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    this.eventClients.add(res);
    res.on('close', () => {
      this.eventClients.delete(res);
      if (this.eventClients.size === 0 && this.ticker) {
        clearInterval(this.ticker);
        this.ticker = null;
      }
    });
    void this.push([res]);
    this.ticker ??= setInterval(() => void this.push([...this.eventClients]), 1_000);
  }

  private async push(clients: http.ServerResponse[]): Promise<void> {
    try {
      const line = `data: ${JSON.stringify(await this.opts.snapshot())}\n\n`;
      for (const res of clients) if (!res.writableEnded) res.write(line);
    } catch (err) {
      this.opts.logger.debug({ err: describeError(err) }, 'dashboard snapshot failed');
    }
  }
}
