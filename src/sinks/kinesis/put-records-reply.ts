import { internalFailure } from './classify.js';
import type { PutEntryResult } from './port.js';

interface ReplyRecord {
  ShardId?: unknown;
  ErrorCode?: unknown;
  ErrorMessage?: unknown;
}

/**
 * One result per entry, in order, as the PutRecords contract says; anything else is an InternalFailure.
 *
 * A reply is read in place: accepted entries of one shard share one result, and neither the reply's tree nor
 * a `SequenceNumber` string per entry is built. `JSON.parse` made both, about 100 bytes per reading, and a
 * burst promoted an eighth more to the old space with them (issue: Pi-class efficiency; bench/RESULTS.md).
 * What the reader does not recognise (an escaped string, a nested value, a literal where a string belongs)
 * is read by `JSON.parse` instead, so the answer never depends on which of the two read it.
 */
export function putRecordsResults(body: string, expected: number): PutEntryResult[] {
  const scanned = scanReply(body);
  const results = scanned ?? parsedResults(body);
  if (results.length !== expected) {
    throw internalFailure(`PutRecords answered ${results.length} results for ${expected} entries`);
  }
  return results;
}

/** The plain reading of the reply, for what scanReply leaves alone. */
function parsedResults(body: string): PutEntryResult[] {
  let parsed: { Records?: unknown };
  try {
    parsed = JSON.parse(body) as { Records?: unknown };
  } catch {
    throw internalFailure(`PutRecords answered a body that is not JSON: ${body.slice(0, 120)}`);
  }
  const records = parsed !== null && typeof parsed === 'object' && Array.isArray(parsed.Records) ? (parsed.Records as unknown[]) : [];
  const accepted = new Map<string, AcceptedResult>();
  return records.map((value, i): PutEntryResult => {
    // Not an entry's result: the call's outcome is unknown, so all of it goes again rather than count it delivered.
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw internalFailure(`PutRecords answered result ${i} that is not an object`);
    const r = value as ReplyRecord;
    // Any error code, even of the wrong type, is a refusal: only a clean acceptance counts as delivered.
    if (r.ErrorCode !== undefined && r.ErrorCode !== null && r.ErrorCode !== '') {
      return { ok: false, errorCode: String(r.ErrorCode), errorMessage: typeof r.ErrorMessage === 'string' ? r.ErrorMessage : '' };
    }
    return acceptedIn(accepted, typeof r.ShardId === 'string' ? r.ShardId : '');
  });
}

type AcceptedResult = Extract<PutEntryResult, { ok: true }>;

/** The one accepted result of a shard, made on its first entry. */
function acceptedIn(accepted: Map<string, AcceptedResult>, shardId: string): AcceptedResult {
  let result = accepted.get(shardId);
  if (!result) accepted.set(shardId, (result = { ok: true, shardId }));
  return result;
}

const QUOTE = 0x22;
// The members of a result that are read; the rest (SequenceNumber, anything new) is skipped.
const OTHER = 0;
const SHARD_ID = 1;
const ERROR_CODE = 2;
const ERROR_MESSAGE = 3;

/**
 * Reads `{…,"Records":[{"ShardId":…,"SequenceNumber":…} | {"ErrorCode":…,"ErrorMessage":…},…],…}` with any
 * order of members and spaces between tokens, as AWS writes it. Returns null for anything else, including a
 * body that is not JSON at all, which the plain reading then reports. Exported for its tests: that replies
 * as Kinesis writes them are read in place, not by the plain reading.
 */
export function scanReply(body: string): PutEntryResult[] | null {
  // An escape anywhere: the plain reading decides. One search of the body, not a test per character (a
  // character class over the body cost a quarter of reading it). A raw control character inside a string,
  // which JSON forbids and AWS does not send, is not looked for.
  if (body.includes('\\')) return null;
  const s = new Scanner(body);
  let results: PutEntryResult[] | null = null;
  if (!s.take(0x7b)) return null; // {
  if (!s.take(0x7d)) {
    do {
      const key = s.stringSpan();
      if (key < 0 || !s.take(0x3a)) return null; // :
      if (s.spanIs(key, 'Records')) {
        if (results !== null) return null; // a repeated member: JSON.parse keeps the last
        results = scanRecords(s);
        if (results === null) return null;
      } else if (!s.skipScalar()) return null;
    } while (s.take(0x2c)); // ,
    if (!s.take(0x7d)) return null;
  }
  if (!s.atEnd()) return null;
  return results ?? [];
}

function scanRecords(s: Scanner): PutEntryResult[] | null {
  if (!s.take(0x5b)) return null; // [
  const results: PutEntryResult[] = [];
  if (s.take(0x5d)) return results; // ]
  const accepted = new Map<string, AcceptedResult>();
  let last: AcceptedResult | null = null;
  do {
    if (!s.take(0x7b)) return null;
    let shardStart = -1;
    let shardEnd = -1;
    let errorCode: string | null = null;
    let errorMessage: string | null = null;
    if (!s.take(0x7d)) {
      do {
        const key = s.stringSpan();
        if (key < 0 || !s.take(0x3a)) return null;
        const field = s.spanIs(key, 'ShardId') ? SHARD_ID : s.spanIs(key, 'ErrorCode') ? ERROR_CODE : s.spanIs(key, 'ErrorMessage') ? ERROR_MESSAGE : OTHER;
        if (field === OTHER) {
          if (!s.skipScalar()) return null;
          continue;
        }
        const value = s.stringSpan();
        if (value < 0) return null;
        if (field === SHARD_ID) {
          shardStart = value;
          shardEnd = s.spanEnd;
        } else if (field === ERROR_CODE) errorCode = s.spanText(value);
        else errorMessage = s.spanText(value);
      } while (s.take(0x2c));
      if (!s.take(0x7d)) return null;
    }
    if (errorCode !== null && errorCode.length > 0) {
      results.push({ ok: false, errorCode, errorMessage: errorMessage ?? '' });
      continue;
    }
    // Entries of one shard come in runs: the last shard's id is compared in place, not cut out and looked up again.
    const shardLength = shardStart >= 0 ? shardEnd - shardStart : 0;
    if (last === null || last.shardId.length !== shardLength || (shardLength > 0 && !s.text.startsWith(last.shardId, shardStart))) {
      last = acceptedIn(accepted, shardStart >= 0 ? s.text.slice(shardStart, shardEnd) : '');
    }
    results.push(last);
  } while (s.take(0x2c));
  return s.take(0x5d) ? results : null;
}

/** A cursor over the reply's text; every method leaves it after the spaces that follow what it read. */
class Scanner {
  at = 0;
  /** The end (exclusive) of the contents of the string stringSpan last read. */
  spanEnd = 0;

  constructor(readonly text: string) {
    this.skipSpace();
  }

  atEnd(): boolean {
    return this.at === this.text.length;
  }

  take(char: number): boolean {
    if (this.text.charCodeAt(this.at) !== char) return false;
    this.at += 1;
    this.skipSpace();
    return true;
  }

  /** A string without escapes: the start of its contents (spanEnd its end), or -1. */
  stringSpan(): number {
    if (this.text.charCodeAt(this.at) !== QUOTE) return -1;
    const start = this.at + 1;
    // No escapes anywhere (scanReply looked), so the next quote ends the string.
    const end = this.text.indexOf('"', start);
    if (end < 0) return -1;
    this.spanEnd = end;
    this.at = end + 1;
    this.skipSpace();
    return start;
  }

  spanIs(start: number, word: string): boolean {
    return this.spanEnd - start === word.length && this.text.startsWith(word, start);
  }

  spanText(start: number): string {
    return this.text.slice(start, this.spanEnd);
  }

  /** A string, a number, true, false or null; an object or an array is left to the plain reading. */
  skipScalar(): boolean {
    const c = this.text.charCodeAt(this.at);
    if (c === QUOTE) return this.stringSpan() >= 0;
    const start = this.at;
    let i = start;
    while (i < this.text.length) {
      const d = this.text.charCodeAt(i);
      // Letters, digits, sign, point, exponent: checked as JSON below.
      if (!((d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x7a) || d === 0x2d || d === 0x2b || d === 0x2e || d === 0x45)) break;
      i += 1;
    }
    if (i === start || !SCALAR.test(this.text.slice(start, i))) return false;
    this.at = i;
    this.skipSpace();
    return true;
  }

  /** Spaces: JSON's other whitespace (tab, line feed, carriage return) sends a reply to the plain reading. */
  private skipSpace(): void {
    while (this.text.charCodeAt(this.at) === 0x20) this.at += 1;
  }
}

const SCALAR = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)$/;
