/**
 * The ground truth: one JSON line per injected episode, what alarm scoring
 * compares alarms with. A line is written (synchronously, so it is on its way
 * to disk before the next reading) as soon as its episode is over, and the
 * open ones are written when the run stops, so a run cut short by SIGINT
 * still leaves a complete file of what it did inject. `start` and `end` are
 * the device timestamps of the first and last affected reading (for a
 * dropout: of the first and last reading the device did not send), because
 * that is the earliest a detector can see it.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { ANOMALY_KINDS } from '../scenario/schema-anomalies.js';

export const truthRecordSchema = z.looseObject({
  device: z.string().min(1),
  /** null: the whole device (dropout). */
  field: z.string().min(1).nullable(),
  kind: z.enum(ANOMALY_KINDS),
  /** Epoch ms. */
  start: z.number(),
  end: z.number(),
  /** spike/step: offset; drift: offset at the end; noise: standard deviation; stuck/dropout: null. */
  magnitude: z.number().nullable(),
  /** noise with a variance multiplier instead of a magnitude. */
  factor: z.number().optional(),
  episodeId: z.string().min(1),
  /** Readings changed (dropout: readings not sent). */
  readings: z.number().int().min(0).optional(),
});

export type TruthRecord = z.output<typeof truthRecordSchema>;

export interface TruthSink {
  write(rec: TruthRecord): void;
}

export class TruthFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TruthFileError';
  }
}

/** Writes a truth file, replacing any earlier one. */
export class TruthWriter implements TruthSink {
  private fd: number | undefined;
  written = 0;

  constructor(readonly file: string) {
    try {
      this.fd = openSync(file, 'w');
    } catch (err) {
      throw new TruthFileError(`cannot write the truth file ${file}: ${(err as Error).message}`);
    }
  }

  write(rec: TruthRecord): void {
    if (this.fd === undefined) throw new TruthFileError(`the truth file ${this.file} is already closed`);
    writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    this.written++;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Collects records in memory (tests, and runs without --truth that still report counts). */
export class TruthCollector implements TruthSink {
  readonly records: TruthRecord[] = [];
  write(rec: TruthRecord): void {
    this.records.push(rec);
  }
}

/** Reads and checks a truth file; a bad line is an error naming its line number. */
export function readTruthFile(file: string): TruthRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TruthFileError(`cannot read truth file ${file}: ${(err as Error).message}`);
  }
  return parseTruth(text, file);
}

export function parseTruth(text: string, source: string): TruthRecord[] {
  const out: TruthRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (err) {
      throw new TruthFileError(`${source} line ${i + 1} is not JSON: ${(err as Error).message} (write the file with device-sim run --truth FILE)`);
    }
    const r = truthRecordSchema.safeParse(doc);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new TruthFileError(`${source} line ${i + 1}: ${first?.path.join('.') || '(line)'}: ${first?.message ?? 'invalid'} (expected {device, field, kind, start, end, magnitude, episodeId})`);
    }
    out.push(r.data);
  });
  return out;
}
