import { z } from 'zod';
import { port, positiveInt } from '../config/primitives.js';

/** The `status` slice: the monitoring server (see docs/guides/monitoring.md). */

export const statusSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve /metrics (Prometheus), /healthz, /readyz and the dashboard.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address the status server binds; it has no authentication, so keep it on loopback or a management network.'),
    port: port.default(9464).describe('Port of the status server.'),
    maxDeliveryLagMs: positiveInt.default(300_000).describe('/healthz reports degraded when the oldest undelivered reading is older than this many milliseconds.'),
    failingAfterMs: positiveInt
      .optional()
      .describe('/healthz reports degraded when every call to a destination has failed for this many milliseconds while readings wait (unset: 20,000).'),
  })
  .strict()
  .default({ enabled: true, host: '127.0.0.1', port: 9464, maxDeliveryLagMs: 300_000 })
  .describe('The monitoring HTTP server: /metrics, /healthz (200 while readings get through, 503 with the reasons when not), /readyz (200 once the buffer is open and the listeners are up).');

export type StatusConfig = z.infer<typeof statusSchema>;
