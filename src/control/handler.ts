import type { HealthReport } from '../core/lifecycle.js';
import type { DecodeOptions } from '../normalize/decode.js';
import { conservationGap } from '../buffer/conservation.js';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters, type ReplayPipeline } from '../buffer/dead-letters.js';
import type { LevelBuffer } from '../buffer/level-buffer.js';
import type { BufferStats } from '../buffer/types.js';
import type { ControlRequest } from './protocol.js';
import type { AlarmService } from '../analytics/alarms/alarm-service.js';
import { TidegateError } from '../core/errors.js';

export interface StatusReport {
  running: boolean;
  gatewayId: string;
  dataDir: string;
  pid?: number;
  uptimeS?: number;
  health?: HealthReport;
  buffer: BufferStats;
  /** received + produced − (delivered + buffered + dead-lettered + dropped + filtered + consumed); 0 when every reading is accounted for. */
  conservationGap: number;
}

export interface ControlContext {
  buffer: LevelBuffer;
  gatewayId: string;
  dataDir: string;
  decode: DecodeOptions;
  running: boolean;
  /** The gateway's health model (the same answer /healthz gives). */
  health?: () => HealthReport | Promise<HealthReport>;
  startedAt?: number;
  /** The running gateway's pipeline: replayed dead letters go through its transforms and rules. */
  replayPipeline?: () => ReplayPipeline | null;
  /** The running gateway's alarm rules; absent when the gateway is not running (alarms live in it). */
  alarms?: () => AlarmService | null;
}

/** `tidegate status`'s answer; also made by the CLI from a stopped gateway's buffer alone (src/cli/stopped-gateway.ts). */
export async function statusReport(ctx: Pick<ControlContext, 'buffer' | 'gatewayId' | 'dataDir' | 'running' | 'health' | 'startedAt'>): Promise<StatusReport> {
  const buffer = ctx.buffer.stats();
  return {
    running: ctx.running,
    gatewayId: ctx.gatewayId,
    dataDir: ctx.dataDir,
    buffer,
    conservationGap: conservationGap(buffer),
    ...(ctx.running ? { pid: process.pid } : {}),
    ...(ctx.startedAt ? { uptimeS: Math.round((Date.now() - ctx.startedAt) / 1000) } : {}),
    ...(ctx.health ? { health: await ctx.health() } : {}),
  };
}

/** The operator's requests, answered the same way by a running gateway and by the CLI on a stopped one. */
export function createControlHandler(ctx: ControlContext): (request: ControlRequest) => Promise<unknown> {
  return async (request) => {
    switch (request.op) {
      case 'status':
        return statusReport(ctx);
      case 'dead-letters.list':
        return listDeadLetters(ctx.buffer, filterOf(request));
      case 'dead-letters.purge':
        return { purged: await purgeDeadLetters(ctx.buffer, filterOf(request)) };
      case 'dead-letters.replay':
        return replayDeadLetters(ctx.buffer, ctx.decode, filterOf(request), ctx.replayPipeline?.() ?? undefined);
      case 'alarms.list':
        return alarmsOf(ctx).list({ ...(request.rule !== undefined ? { rule: request.rule } : {}), all: request.all === true });
      case 'alarms.ack':
        return alarmsOf(ctx).acknowledge(request.rule, request.deviceId);
      case 'alarms.shelve':
        return alarmsOf(ctx).shelve(request.rule, request.deviceId, request.until);
      default:
        throw new Error(`unknown control operation ${JSON.stringify((request as { op?: unknown }).op)}`);
    }
  };
}

function alarmsOf(ctx: ControlContext): AlarmService {
  const alarms = ctx.alarms?.();
  if (!alarms) throw new TidegateError('ERR_USAGE', 'alarms are kept by a running gateway: start it (tidegate run) to list, acknowledge or shelve them');
  return alarms;
}

function filterOf(r: { reason?: string; ids?: number[]; limit?: number }) {
  return { ...(r.reason !== undefined ? { reason: r.reason } : {}), ...(r.ids !== undefined ? { ids: r.ids } : {}), ...(r.limit !== undefined ? { limit: r.limit } : {}) };
}
