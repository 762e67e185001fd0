/**
 * auditStream: reads a whole Kinesis stream and compares it with a run's
 * ledger. With `waitMs`, readings still on their way (the gateway forwards in
 * batches) get that long to arrive: the stream is read again, only its new
 * records, until nothing acknowledged is missing or the time is up.
 */
import type { SimulationSummary } from '../simulator.js';
import { analyze, type AuditResult } from './analyze.js';
import { auditClient, StreamReader, type KinesisTarget } from './kinesis-reader.js';
import { parseLedger, readLedgerFile, type AuditLedger } from './report-file.js';

export type { AuditResult, LostReadings } from './analyze.js';
export { ReportFileError } from './report-file.js';

export interface AuditOptions extends KinesisTarget {
  /** The run's report: a --report file, or the summary runSimulation returned. */
  report: string | SimulationSummary | AuditLedger;
  /** Keep reading for up to this long while acknowledged readings are missing (default 0). */
  waitMs?: number;
  /** Poll interval while waiting (default 500 ms). */
  pollMs?: number;
  /** Upper bound for reading the stream once (default 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A reader to share (alarm scoring reads the same stream): its records are reused, its client left open. */
  reader?: StreamReader;
}

async function ledgerOf(report: AuditOptions['report']): Promise<AuditLedger> {
  return typeof report === 'string' ? readLedgerFile(report) : parseLedger(report, 'the given summary');
}

export async function auditStream(opts: AuditOptions): Promise<AuditResult> {
  const ledger = await ledgerOf(opts.report);
  const client = opts.reader ? undefined : auditClient(opts);
  try {
    const reader = opts.reader ?? new StreamReader(client!, opts.stream);
    const waitUntil = Date.now() + (opts.waitMs ?? 0);
    const pollMs = opts.pollMs ?? 500;
    await reader.catchUp(Date.now() + (opts.timeoutMs ?? 120_000));
    let result = analyze(ledger, reader.records, opts.stream, reader.shardCount);
    // Bounded: at most waitMs / pollMs extra rounds.
    while (!result.ok && Date.now() < waitUntil && !opts.signal?.aborted) {
      await new Promise((r) => setTimeout(r, pollMs));
      if ((await reader.catchUp(Date.now() + (opts.timeoutMs ?? 120_000))) > 0) {
        result = analyze(ledger, reader.records, opts.stream, reader.shardCount);
      }
    }
    return result;
  } finally {
    client?.destroy();
  }
}
