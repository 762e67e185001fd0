import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config/load.js';
import { ManualClock } from '../core/clock.js';
import { TidegateError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { Metrics } from '../core/metrics.js';
import type { ReadingValue } from '../normalize/reading.js';
import { loadTransformChain } from '../pipeline/load-chain.js';
import type { ChainOutcome } from '../pipeline/transform-chain.js';
import type { PendingReading } from '../buffer/types.js';

export interface RulesTestOptions {
  config: string;
  input: string;
  /** Stop without flushing open windows (as `shutdown: checkpoint` would). */
  flush: boolean;
}

/**
 * `tidegate rules test --config FILE --input readings.jsonl`: runs the config's transforms and rules over
 * the readings on virtual time and prints, as JSON lines, every record they would buffer (readings that
 * passed, aggregates, alarms), each with the virtual time it was emitted at. A summary goes to stderr. Like
 * `promtool test rules`: a rule's behaviour checked before it is deployed, in a second and with no broker.
 *
 * Input lines: `{"deviceId": "...", "ts": <epoch ms or ISO>, "values": {...}}`, optionally `topic`, `seq`,
 * `receivedAt` (default ts) and `tags`. Time moves to each reading's receivedAt, with the pipeline's tick
 * (pipeline.tickMs) fired on the way, as the gateway's clock would.
 */
export async function rulesTestCommand(o: RulesTestOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const config = await loadConfig(o.config);
  const clock = new ManualClock(0);
  const metrics = new Metrics();
  const ctx = { clock, logger: createLogger('warn', false, err as never), metrics };
  const { chain } = await loadTransformChain(config, ctx);
  const tickMs = config.pipeline.tickMs;
  const totals = { in: 0, out: 0, filtered: 0, consumed: 0, produced: 0, deadLettered: 0, filteredBy: {} as Record<string, number> };
  let nextTick: number | null = null;
  const emit = (outcome: ChainOutcome): void => {
    for (const r of outcome.readings) out.write(`${JSON.stringify({ at: new Date(clock.now()).toISOString(), kind: r.kind ?? 'reading', ...(r.lane && r.lane !== 'telemetry' ? { lane: r.lane } : {}), record: withoutInternals(r) })}\n`);
    for (const d of outcome.deadLetters) out.write(`${JSON.stringify({ at: new Date(clock.now()).toISOString(), kind: 'dead_letter', reason: d.reason, message: d.message, record: withoutInternals(d.reading) })}\n`);
    totals.out += outcome.readings.length;
    totals.filtered += outcome.filtered;
    totals.consumed += outcome.consumed;
    totals.produced += outcome.produced;
    totals.deadLettered += outcome.deadLetters.length;
    for (const [k, v] of Object.entries(outcome.filteredBy)) totals.filteredBy[k] = (totals.filteredBy[k] ?? 0) + v;
  };
  const advance = async (to: number): Promise<void> => {
    if (nextTick === null) nextTick = Math.ceil(to / tickMs) * tickMs;
    while (nextTick <= to) {
      await clock.advance(nextTick - clock.now());
      emit(chain.tick(nextTick));
      nextTick += tickMs;
    }
    if (to > clock.now()) await clock.advance(to - clock.now());
  };
  let line = 0;
  const lines = createInterface({ input: createReadStream(o.input, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    const reading = parseInputReading(text, `${o.input}:${line}`);
    if (reading.receivedAt < clock.now()) throw new TidegateError('ERR_USAGE', `${o.input}:${line}: receivedAt ${new Date(reading.receivedAt).toISOString()} is before the previous line's; input lines must be in arrival order (ts may be out of order, receivedAt may not)`);
    await advance(reading.receivedAt);
    totals.in += 1;
    emit(chain.run([reading]));
  }
  if (o.flush) emit(chain.flush());
  // Kept apart from the records (stdout), so the output can be piped to jq or compared with a file as is.
  const { filteredBy, ...counts } = totals;
  err.write(`${JSON.stringify({ summary: { ...counts, filteredBy } })}\n`);
  return 0;
}

function withoutInternals(r: PendingReading): Omit<PendingReading, 'lane' | 'kind'> {
  const { lane: _lane, kind: _kind, ...rest } = r;
  return rest;
}

function parseInputReading(text: string, where: string): PendingReading {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new TidegateError('ERR_USAGE', `${where}: not JSON (${(error as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new TidegateError('ERR_USAGE', `${where}: each line must be a JSON object with deviceId, ts and values`);
  const d = doc as Record<string, unknown>;
  if (typeof d.deviceId !== 'string' || d.deviceId === '') throw new TidegateError('ERR_USAGE', `${where}: "deviceId" must be a non-empty string`);
  const ts = time(d.ts, 'ts', where);
  const receivedAt = time(d.receivedAt, 'receivedAt', where) ?? ts;
  if (receivedAt === undefined) throw new TidegateError('ERR_USAGE', `${where}: give "ts" or "receivedAt" (epoch ms or ISO 8601), so the reading has a time`);
  if (d.values === null || typeof d.values !== 'object' || Array.isArray(d.values)) throw new TidegateError('ERR_USAGE', `${where}: "values" must be an object of numbers, bools or strings`);
  const values: Record<string, ReadingValue> = {};
  for (const [k, v] of Object.entries(d.values as Record<string, unknown>)) {
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || typeof v === 'string') values[k] = v;
    else throw new TidegateError('ERR_USAGE', `${where}: value "${k}" must be a finite number, a bool or a string`);
  }
  const reading: PendingReading = { deviceId: d.deviceId, topic: typeof d.topic === 'string' ? d.topic : `devices/${d.deviceId}/telemetry`, receivedAt, values };
  if (ts !== undefined) reading.ts = ts;
  if (typeof d.seq === 'number' && Number.isSafeInteger(d.seq) && d.seq >= 0) reading.seq = d.seq;
  if (d.tags !== null && typeof d.tags === 'object' && !Array.isArray(d.tags)) reading.tags = d.tags as Record<string, ReadingValue>;
  return reading;
}

function time(value: unknown, name: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  throw new TidegateError('ERR_USAGE', `${where}: "${name}" must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(value)}`);
}
