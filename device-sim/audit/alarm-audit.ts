/**
 * auditAlarms: reads a run's ground truth and the alarms the gateway raised
 * (from the stream or its MQTT alarm topics), and scores them. With the run's
 * report, alarms are limited to that run: its devices, raised at or after its
 * start (a long-lived stream holds other runs' alarms too). From the stream,
 * `waitMs` re-reads new records while some episode is still undetected, since
 * detectors and the gateway's batching take a while.
 */
import { readTruthFile, type TruthRecord } from '../anomalies/truth.js';
import type { SimulationSummary } from '../simulator.js';
import { AlarmCollector, type AlarmCollection, type AlarmEvent } from './alarm-records.js';
import { scoreAlarms, type AlarmScore } from './alarm-score.js';
import { collectFromMqtt, collectFromStream, DEFAULT_ALARM_TOPIC } from './alarm-sources.js';
import { auditClient, StreamReader, type KinesisTarget } from './kinesis-reader.js';
import { parseLedger, readLedgerFile, type AuditLedger } from './report-file.js';

export interface AlarmAuditResult extends AlarmScore {
  source: string;
  alarms: Omit<AlarmCollection, 'raises'>;
  /** Raises left out because they belong to another run (with a report only). */
  outOfScope: { otherDevices: number; beforeRun: number };
}

interface Common {
  /** The truth file, or its records. */
  truth: string | readonly TruthRecord[];
  /** The run's report, to limit alarms to its devices and time. */
  report?: string | SimulationSummary | AuditLedger;
  /** A raise up to this long after an episode's end still counts as its detection (default 30 s). */
  toleranceMs?: number;
  signal?: AbortSignal;
}

export type AlarmAuditOptions =
  | (Common & { from: 'stream'; target: KinesisTarget; waitMs?: number; pollMs?: number; timeoutMs?: number; reader?: StreamReader })
  | (Common & { from: 'mqtt'; url: string; topic?: string; listenMs: number; username?: string; password?: string; onSubscribed?: () => void });

export const DEFAULT_TOLERANCE_MS = 30_000;

async function ledgerOf(report: Common['report']): Promise<AuditLedger | undefined> {
  if (report === undefined) return undefined;
  return typeof report === 'string' ? readLedgerFile(report) : parseLedger(report, 'the given summary');
}

function scope(raises: readonly AlarmEvent[], ledger: AuditLedger | undefined): { kept: AlarmEvent[]; outOfScope: AlarmAuditResult['outOfScope'] } {
  const outOfScope = { otherDevices: 0, beforeRun: 0 };
  if (!ledger) return { kept: [...raises], outOfScope };
  const devices = new Set(ledger.devices.map((d) => d.deviceId));
  const since = Date.parse(ledger.startedAt);
  const kept = raises.filter((r) => {
    if (!devices.has(r.deviceId)) outOfScope.otherDevices++;
    else if (Number.isFinite(since) && r.at < since) outOfScope.beforeRun++;
    else return true;
    return false;
  });
  return { kept, outOfScope };
}

function result(truth: readonly TruthRecord[], c: AlarmCollection, ledger: AuditLedger | undefined, toleranceMs: number, source: string): AlarmAuditResult {
  const { kept, outOfScope } = scope(c.raises, ledger);
  const { raises: _all, ...alarms } = c;
  return { source, ...scoreAlarms(truth, kept, toleranceMs), alarms, outOfScope };
}

export async function auditAlarms(o: AlarmAuditOptions): Promise<AlarmAuditResult> {
  const tolerance = o.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const collector = new AlarmCollector();
  const readTruth = (): readonly TruthRecord[] => (typeof o.truth === 'string' ? readTruthFile(o.truth) : o.truth);
  if (o.from === 'mqtt') {
    // The listener runs beside the simulator, which writes the truth and the report as it goes and at its
    // end: read both once listening is over, not before.
    await collectFromMqtt({ url: o.url, topic: o.topic, listenMs: o.listenMs, username: o.username, password: o.password, signal: o.signal, onSubscribed: o.onSubscribed }, collector);
    return result(readTruth(), collector.result, await ledgerOf(o.report), tolerance, `mqtt ${o.url} ${o.topic ?? DEFAULT_ALARM_TOPIC}`);
  }
  const truth = readTruth();
  const ledger = await ledgerOf(o.report);
  // A shared reader (the loss audit's) keeps its records: they are scored, not read again.
  const client = o.reader ? undefined : auditClient(o.target);
  try {
    const reader = o.reader ?? new StreamReader(client!, o.target.stream);
    const timeout = o.timeoutMs ?? 120_000;
    const waitUntil = Date.now() + (o.waitMs ?? 0);
    await reader.catchUp(Date.now() + timeout);
    let read = collectFromStream(reader, collector, 0);
    let scored = result(truth, collector.result, ledger, tolerance, `stream ${o.target.stream}`);
    // Bounded: at most waitMs / pollMs extra rounds.
    while (scored.detected < scored.episodes && Date.now() < waitUntil && !o.signal?.aborted) {
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
      if ((await reader.catchUp(Date.now() + timeout)) > 0) {
        read = collectFromStream(reader, collector, read);
        scored = result(truth, collector.result, ledger, tolerance, `stream ${o.target.stream}`);
      }
    }
    return scored;
  } finally {
    client?.destroy();
  }
}
