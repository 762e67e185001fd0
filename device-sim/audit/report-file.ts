/**
 * Reads the ledger part of a `device-sim run --report` file, checked with zod,
 * so an audit against the wrong file says so instead of reporting nonsense.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { problemsFromZod } from '../scenario/errors.js';

const range = z.tuple([z.number().int().min(0), z.number().int().min(0)]);

const ledgerSchema = z.looseObject({
  qos: z.number().int().min(0).max(2),
  transport: z.enum(['mqtt', 'serial']).default('mqtt'),
  startedAt: z.string(),
  devices: z.array(
    z.looseObject({
      deviceId: z.string().min(1),
      boots: z.array(
        z.looseObject({
          boot: z.string(),
          sent: z.number().int().min(0),
          acked: z.array(range),
          duplicated: z.array(range).optional(),
        }),
      ),
    }),
  ),
});

export type AuditLedger = z.output<typeof ledgerSchema>;

export class ReportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportFileError';
  }
}

export function parseLedger(doc: unknown, source: string): AuditLedger {
  const r = ledgerSchema.safeParse(doc);
  if (r.success) return r.data;
  const problems = problemsFromZod(r.error.issues).slice(0, 5);
  throw new ReportFileError(
    `${source} is not a device-sim report with a per-boot ledger (write one with device-sim run --report FILE):\n` +
      problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`).join('\n'),
  );
}

export async function readLedgerFile(file: string): Promise<AuditLedger> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ReportFileError(`cannot read report ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ReportFileError(`report ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseLedger(doc, file);
}
