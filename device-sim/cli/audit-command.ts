/**
 * `device-sim audit`: compares a run's ledger with a Kinesis stream (--report)
 * and/or scores the gateway's alarms against the run's ground truth (--truth).
 * Exit 0: nothing acknowledged is missing (with --strict also no unexpected
 * duplicates or reordering) and the alarm score meets --min-precision and
 * --min-recall; 1: it does not; 2: bad arguments, report or truth file.
 */
import type { Command } from 'commander';
import { TruthFileError } from '../anomalies/truth.js';
import { auditAlarms, DEFAULT_TOLERANCE_MS, type AlarmAuditResult } from '../audit/alarm-audit.js';
import { AlarmListenError, DEFAULT_ALARM_TOPIC } from '../audit/alarm-sources.js';
import { auditClient, StreamReader } from '../audit/kinesis-reader.js';
import { auditStream, ReportFileError, type AuditResult } from '../audit/audit.js';
import { formatAlarmScore } from '../audit/format-alarms.js';
import { formatAudit } from '../audit/format.js';

export interface AuditFlags {
  report?: string;
  stream?: string;
  endpoint?: string;
  region?: string;
  wait?: string;
  timeout?: string;
  json?: boolean;
  strict?: boolean;
  truth?: string;
  alarmsFrom?: string;
  tolerance?: string;
  mqttUrl?: string;
  alarmTopic?: string;
  listen?: string;
  minPrecision?: string;
  minRecall?: string;
}

export function addAuditFlags(cmd: Command): Command {
  return cmd
    .option('--report <file>', 'the ledger written by device-sim run --report (loss audit; with --truth it also limits alarms to that run)')
    .option('--stream <name>', 'the Kinesis stream the gateway writes to, e.g. tidegate-telemetry')
    .option('--endpoint <url>', 'a Kinesis-compatible endpoint, e.g. http://127.0.0.1:4567 for the gateway\'s local emulator (default: AWS)')
    .option('--region <region>', 'AWS region (default: $AWS_REGION, else us-east-1)')
    .option('--wait <seconds>', 'keep reading this long while acknowledged readings are missing or anomalies undetected (the gateway forwards in batches)', '0')
    .option('--timeout <seconds>', 'give up reading the stream after this long', '120')
    .option('--json', 'print the result as one JSON object')
    .option('--strict', 'also fail on unexpected duplicates and reordering')
    .option('--truth <file>', 'score alarms against this ground truth (written by device-sim run --truth)')
    .option('--alarms-from <stream|mqtt>', 'read alarms from the stream (records of kind "alarm") or by subscribing to the gateway\'s alarm topics', 'stream')
    .option('--tolerance <seconds>', `a raise this long after an anomaly ends still counts as its detection (default: ${DEFAULT_TOLERANCE_MS / 1000})`)
    .option('--mqtt-url <url>', 'with --alarms-from mqtt: the gateway\'s broker', 'mqtt://127.0.0.1:1883')
    .option('--alarm-topic <filter>', 'with --alarms-from mqtt: the topic filter to subscribe to', DEFAULT_ALARM_TOPIC)
    .option('--listen <seconds>', 'with --alarms-from mqtt: how long to listen (start it with the run: MQTT shows only what happens while subscribed)')
    .option('--min-precision <ratio>', 'exit 1 when alarm precision is below this (0..1)')
    .option('--min-recall <ratio>', 'exit 1 when alarm recall is below this (0..1)');
}

class UsageError extends Error {}

function seconds(flag: string, raw: string | undefined): number {
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(v) || v < 0) throw new UsageError(`${flag} expects a number of seconds (got "${raw}")`);
  return v * 1000;
}

function fraction(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !(v >= 0 && v <= 1)) throw new UsageError(`${flag} expects a ratio from 0 to 1 (got "${raw}"); e.g. ${flag} 0.9`);
  return v;
}

interface Plan {
  waitMs: number;
  timeoutMs: number;
  region: string;
  alarms: { from: 'stream' | 'mqtt'; toleranceMs: number; listenMs: number; minPrecision?: number; minRecall?: number } | undefined;
}

function plan(flags: AuditFlags): Plan {
  if (flags.report === undefined && flags.truth === undefined) {
    throw new UsageError('nothing to audit: pass --report FILE (loss, duplicates, latency) and/or --truth FILE (alarm scoring)');
  }
  const from = flags.alarmsFrom ?? 'stream';
  if (from !== 'stream' && from !== 'mqtt') throw new UsageError(`--alarms-from must be stream or mqtt (got "${from}")`);
  const needsStream = (flags.report !== undefined && !(flags.truth !== undefined && from === 'mqtt')) || (flags.truth !== undefined && from === 'stream');
  if (needsStream && flags.stream === undefined) throw new UsageError('--stream NAME is required to read the Kinesis stream, e.g. --stream tidegate-telemetry');
  if (flags.endpoint !== undefined && !URL.canParse(flags.endpoint)) throw new UsageError(`--endpoint is not a URL (got "${flags.endpoint}")`);
  let alarms: Plan['alarms'];
  if (flags.truth !== undefined) {
    if (from === 'mqtt' && flags.listen === undefined) throw new UsageError('--alarms-from mqtt needs --listen SECONDS: how long to collect alarms (as long as the run, plus detection time)');
    if (from === 'mqtt' && !URL.canParse(flags.mqttUrl ?? '')) throw new UsageError(`--mqtt-url is not a URL (got "${flags.mqttUrl}")`);
    alarms = {
      from,
      toleranceMs: flags.tolerance === undefined ? DEFAULT_TOLERANCE_MS : seconds('--tolerance', flags.tolerance),
      listenMs: from === 'mqtt' ? seconds('--listen', flags.listen) : 0,
      minPrecision: fraction('--min-precision', flags.minPrecision),
      minRecall: fraction('--min-recall', flags.minRecall),
    };
  } else if (flags.minPrecision !== undefined || flags.minRecall !== undefined || flags.alarmsFrom === 'mqtt') {
    throw new UsageError('--alarms-from, --min-precision and --min-recall score alarms: add --truth FILE');
  }
  return {
    waitMs: seconds('--wait', flags.wait),
    timeoutMs: seconds('--timeout', flags.timeout),
    region: flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    alarms,
  };
}

function streamHint(err: Error, flags: AuditFlags, region: string): string {
  const name = err.name;
  const hint =
    name === 'ResourceNotFoundException'
      ? `stream ${flags.stream} does not exist at ${flags.endpoint ?? `AWS ${region}`}; check --stream, --endpoint and --region`
      : name === 'CredentialsProviderError' || name === 'UnrecognizedClientException'
        ? 'no usable AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE'
        : 'check --endpoint, --region and the network';
  return `cannot read stream ${flags.stream}: ${err.message} (${hint})`;
}

export async function auditCommand(flags: AuditFlags): Promise<number> {
  let p: Plan;
  try {
    p = plan(flags);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`device-sim audit: ${err.message}\n`);
    return 2;
  }
  const target = { stream: flags.stream as string, endpoint: flags.endpoint, region: p.region };
  let loss: AuditResult | undefined;
  let score: AlarmAuditResult | undefined;
  // One reader for both the loss audit and alarm scoring: the stream is read once.
  const client = flags.stream !== undefined ? auditClient(target) : undefined;
  const reader = client ? new StreamReader(client, target.stream) : undefined;
  try {
    if (p.alarms?.from === 'mqtt') {
      // Listening comes first: it must cover the run; the stream is read once the run is over.
      score = await auditAlarms({
        from: 'mqtt',
        truth: flags.truth as string,
        report: flags.report,
        toleranceMs: p.alarms.toleranceMs,
        url: flags.mqttUrl as string,
        topic: flags.alarmTopic,
        listenMs: p.alarms.listenMs,
        onSubscribed: () => process.stderr.write(`device-sim audit: listening on ${flags.alarmTopic ?? DEFAULT_ALARM_TOPIC} for ${p.alarms!.listenMs / 1000} s\n`),
      });
    }
    if (flags.report !== undefined && flags.stream !== undefined) {
      loss = await auditStream({ report: flags.report, ...target, waitMs: p.waitMs, timeoutMs: p.timeoutMs, reader });
    }
    if (p.alarms?.from === 'stream') {
      score = await auditAlarms({ from: 'stream', truth: flags.truth as string, report: flags.report, toleranceMs: p.alarms.toleranceMs, target, waitMs: p.waitMs, timeoutMs: p.timeoutMs, reader });
    }
  } catch (err) {
    if (err instanceof ReportFileError || err instanceof TruthFileError) {
      process.stderr.write(`device-sim audit: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`device-sim audit: ${err instanceof AlarmListenError ? err.message : streamHint(err as Error, flags, p.region)}\n`);
    return 1;
  } finally {
    client?.destroy();
  }
  if (flags.json) {
    const doc = loss && score ? { ...loss, alarmScore: score } : (loss ?? score);
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  } else {
    process.stdout.write(`${[loss && formatAudit(loss, flags.strict), score && formatAlarmScore(score)].filter(Boolean).join('\n')}\n`);
  }
  const lossFail = loss !== undefined && (!loss.ok || (flags.strict === true && (loss.duplicates.unexpected > 0 || loss.reordered > 0)));
  const below = (v: number | null | undefined, min: number | undefined): boolean => min !== undefined && (v ?? 0) < min;
  const scoreFail = score !== undefined && (below(score.precision, p.alarms?.minPrecision) || below(score.recall, p.alarms?.minRecall));
  return lossFail || scoreFail ? 1 : 0;
}
