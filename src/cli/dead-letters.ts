import type { StoredDeadLetter, ReplayResult } from '../buffer/dead-letters.js';
import { bufferRequest } from './buffer-access.js';

export interface DeadLetterOptions {
  config: string;
  reason?: string;
  id?: number[];
  limit?: number;
  json?: boolean;
}

const PREVIEW = 80;

function preview(d: StoredDeadLetter): string {
  if (d.entry.payloadBase64 === undefined) return d.entry.declaredBytes !== undefined ? `(not kept: ${d.entry.declaredBytes} bytes declared)` : '(no payload)';
  const text = Buffer.from(d.entry.payloadBase64, 'base64').toString('utf8').replace(/[\u0000-\u001f]/g, '.');
  return JSON.stringify(text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text);
}

const filter = (o: DeadLetterOptions) => ({
  ...(o.reason !== undefined ? { reason: o.reason } : {}),
  ...(o.id !== undefined ? { ids: o.id } : {}),
});

/** `tidegate dead-letters list`: one line each (or JSON lines with --json, payload included). */
export async function listCommand(o: DeadLetterOptions): Promise<number> {
  const letters = (await bufferRequest(o.config, { op: 'dead-letters.list', ...filter(o), limit: o.limit ?? 100 })) as StoredDeadLetter[];
  for (const d of letters) {
    const e = d.entry;
    process.stdout.write(
      o.json
        ? `${JSON.stringify({ id: d.n, ...e })}\n`
        : `#${d.n}  ${new Date(e.receivedAt).toISOString()}  ${e.reason}  ${e.origin}  ${e.topic ?? '-'}  ${preview(d)}\n   ${e.message}\n`,
    );
  }
  if (!o.json) process.stderr.write(`${letters.length} dead letter(s)${letters.length === (o.limit ?? 100) ? ' (limit reached: --limit N for more)' : ''}\n`);
  return 0;
}

/** `tidegate dead-letters replay`: decodes them again with the current config; the valid ones are forwarded. */
export async function replayCommand(o: DeadLetterOptions): Promise<number> {
  const r = (await bufferRequest(o.config, { op: 'dead-letters.replay', ...filter(o) })) as ReplayResult;
  if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    process.stdout.write(`replayed ${r.replayed}; still invalid ${r.stillInvalid.length}; without payload ${r.withoutPayload}\n`);
    const o = r.outcome;
    process.stdout.write(`  became: stored ${o.stored}, filtered ${o.filtered}, consumed ${o.consumed} (producing ${o.produced}), dead-lettered again ${o.deadLetteredAgain}, dropped ${o.dropped}\n`);
    if (r.leftByFullBuffer) process.stdout.write(`  the buffer is full: ${r.leftByFullBuffer} left in the dead letters; replay again once readings have been delivered\n`);
    for (const s of r.stillInvalid) process.stdout.write(`  #${s.n} ${s.reason}: ${s.message}\n`);
  }
  return 0;
}

/** `tidegate dead-letters purge`: deletes them (they stay counted as dead-lettered). */
export async function purgeCommand(o: DeadLetterOptions): Promise<number> {
  const r = (await bufferRequest(o.config, { op: 'dead-letters.purge', ...filter(o) })) as { purged: number };
  process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `purged ${r.purged} dead letter(s)\n`);
  return 0;
}
