/**
 * `device-sim audit`: compares a run's ledger with a Kinesis stream. Exit 0:
 * nothing acknowledged is missing (with --strict also no unexpected
 * duplicates or reordering); 1: it is; 2: bad arguments or report file.
 */
import type { Command } from 'commander';
import { auditStream, ReportFileError } from '../audit/audit.js';
import { formatAudit } from '../audit/format.js';

export interface AuditFlags {
  report: string;
  stream: string;
  endpoint?: string;
  region?: string;
  wait?: string;
  timeout?: string;
  json?: boolean;
  strict?: boolean;
}

export function addAuditFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--report <file>', 'the ledger written by device-sim run --report')
    .requiredOption('--stream <name>', 'the Kinesis stream the gateway writes to, e.g. tidegate-telemetry')
    .option('--endpoint <url>', 'a Kinesis-compatible endpoint, e.g. http://127.0.0.1:4567 for the gateway\'s local emulator (default: AWS)')
    .option('--region <region>', 'AWS region (default: $AWS_REGION, else us-east-1)')
    .option('--wait <seconds>', 'keep reading this long while acknowledged readings are still missing (the gateway forwards in batches)', '0')
    .option('--timeout <seconds>', 'give up reading the stream after this long', '120')
    .option('--json', 'print the result as one JSON object')
    .option('--strict', 'also fail on unexpected duplicates and reordering');
}

function seconds(flag: string, raw: string | undefined): number {
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(v) || v < 0) throw new ReportFileError(`${flag} expects a number of seconds (got "${raw}")`);
  return v * 1000;
}

export async function auditCommand(flags: AuditFlags): Promise<number> {
  let waitMs: number;
  let timeoutMs: number;
  try {
    waitMs = seconds('--wait', flags.wait);
    timeoutMs = seconds('--timeout', flags.timeout);
    if (flags.endpoint !== undefined) new URL(flags.endpoint);
  } catch (err) {
    process.stderr.write(`device-sim audit: ${err instanceof TypeError ? `--endpoint is not a URL (got "${flags.endpoint}")` : (err as Error).message}\n`);
    return 2;
  }
  const region = flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  try {
    const result = await auditStream({ report: flags.report, stream: flags.stream, endpoint: flags.endpoint, region, waitMs, timeoutMs });
    process.stdout.write(`${flags.json ? JSON.stringify(result) : formatAudit(result, flags.strict)}\n`);
    const strictFail = flags.strict && (result.duplicates.unexpected > 0 || result.reordered > 0);
    return result.ok && !strictFail ? 0 : 1;
  } catch (err) {
    if (err instanceof ReportFileError) {
      process.stderr.write(`device-sim audit: ${err.message}\n`);
      return 2;
    }
    const name = (err as Error).name;
    const hint =
      name === 'ResourceNotFoundException'
        ? `stream ${flags.stream} does not exist at ${flags.endpoint ?? `AWS ${region}`}; check --stream, --endpoint and --region`
        : name === 'CredentialsProviderError' || name === 'UnrecognizedClientException'
          ? 'no usable AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE'
          : 'check --endpoint, --region and the network';
    process.stderr.write(`device-sim audit: cannot read stream ${flags.stream}: ${(err as Error).message} (${hint})\n`);
    return 1;
  }
}
