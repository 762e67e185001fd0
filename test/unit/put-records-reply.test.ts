import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { putRecordsResults, scanReply } from '../../src/sinks/kinesis/put-records-reply.js';
import type { PutEntryResult } from '../../src/sinks/kinesis/port.js';

/** What a reply means, read the plain way: a refusal where there is an error code, else the shard it landed in. */
function reference(body: string): PutEntryResult[] {
  const records = (JSON.parse(body) as { Records: Array<Record<string, unknown>> }).Records;
  return records.map((r) =>
    r.ErrorCode !== undefined && r.ErrorCode !== null && r.ErrorCode !== ''
      ? { ok: false, errorCode: String(r.ErrorCode), errorMessage: typeof r.ErrorMessage === 'string' ? r.ErrorMessage : '' }
      : { ok: true, shardId: typeof r.ShardId === 'string' ? r.ShardId : '' },
  );
}

const seq = (i: number): string => `49${String(i).padStart(54, '0')}`;
const accepted = (shard: number, i: number): Record<string, string> => ({ SequenceNumber: seq(i), ShardId: `shardId-${String(shard).padStart(12, '0')}` });
const throttled = (shard: number): Record<string, string> => ({
  ErrorCode: 'ProvisionedThroughputExceededException',
  ErrorMessage: `Rate exceeded for shard shardId-${String(shard).padStart(12, '0')} in stream telemetry under account 123456789012.`,
});

describe('PutRecords reply', () => {
  it('reads an accepted call as one result per entry in order, sharing one result per shard', () => {
    const records = [accepted(0, 0), accepted(0, 1), accepted(1, 2), accepted(0, 3)];
    const body = JSON.stringify({ FailedRecordCount: 0, Records: records, EncryptionType: 'NONE' });
    const results = putRecordsResults(body, 4);
    expect(results).toEqual(reference(body));
    expect(results.map((r) => (r.ok ? r.shardId : null))).toEqual(['shardId-000000000000', 'shardId-000000000000', 'shardId-000000000001', 'shardId-000000000000']);
    // Entries of a shard share their result: no object per accepted entry.
    expect(results[1]).toBe(results[0]);
    expect(results[3]).toBe(results[0]);
    expect(results[2]).not.toBe(results[0]);
  });

  it('reads replies as Kinesis and its emulators write them in place, compact or spaced, not by JSON.parse', () => {
    const records = [accepted(0, 0), throttled(1), accepted(1, 2), { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' }, accepted(1, 4)];
    const compact = JSON.stringify({ FailedRecordCount: 2, Records: records, EncryptionType: 'KMS' });
    const kinesalite = JSON.stringify({ FailedRecordCount: 0, Records: [{ ShardId: 'shardId-000000000000', SequenceNumber: seq(1) }] });
    for (const body of [compact, compact.replace(/[:,]/g, '$& '), ` ${compact.replace(/[{}[\]]/g, ' $& ')} `, kinesalite, '{"Records":[]}', '{}']) {
      expect(scanReply(body), body).toEqual(reference(body === '{}' ? '{"Records":[]}' : body));
    }
    // What it leaves to JSON.parse: escapes, other whitespace, nested values, anything not JSON.
    for (const body of [JSON.stringify({ Records: [{ ErrorCode: 'X', ErrorMessage: 'a "quoted" word' }] }), '{\n"Records":[]}', '{"Records":[{"ShardId":"s","X":{}}]}', '{"Records":[', 'null']) {
      expect(scanReply(body), body).toBeNull();
    }
  });

  it('keeps each refusal with its code and message, in its place', () => {
    const body = JSON.stringify({ FailedRecordCount: 2, Records: [accepted(0, 0), throttled(1), { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' }, accepted(1, 3)] });
    expect(putRecordsResults(body, 4)).toEqual([
      { ok: true, shardId: 'shardId-000000000000' },
      { ok: false, errorCode: 'ProvisionedThroughputExceededException', errorMessage: throttled(1).ErrorMessage },
      { ok: false, errorCode: 'InternalFailure', errorMessage: 'Internal service failure.' },
      { ok: true, shardId: 'shardId-000000000001' },
    ]);
  });

  it('reads what the plain reading reads: escapes, whitespace, member order, unknown and nested members', () => {
    const bodies = [
      // Pretty-printed, members in another order.
      JSON.stringify({ Records: [{ ShardId: 'shardId-000000000002', SequenceNumber: seq(1) }], FailedRecordCount: 0 }, null, 2).replace(/\n/g, '\r\n'),
      // An escaped message and shard id: left to JSON.parse.
      JSON.stringify({ FailedRecordCount: 1, Records: [{ ErrorCode: 'X', ErrorMessage: 'quote " and \\ and \n' }, { ShardId: 'shard\u00e9"1' }] }),
      // A member the reply may grow, nested: left to JSON.parse.
      JSON.stringify({ FailedRecordCount: 0, Records: [{ ShardId: 's', Extra: { a: [1, 2] } }], Meta: [true, null] }),
      // Scalars of every kind where nothing is read.
      '{"FailedRecordCount":-0.5e+3,"A":true,"B":false,"C":null,"Records":[{"ShardId":"s","N":12,"T":true}]}',
      // An empty error code is no error (as the SDK reads it); a number as a code is still a refusal.
      JSON.stringify({ Records: [{ ShardId: 's', ErrorCode: '' }, { ErrorCode: 500 }, {}] }),
      '{"Records":[]}',
      '{}',
    ];
    for (const body of bodies) {
      const expected = reference(body.length > 2 ? body : '{"Records":[]}');
      expect(putRecordsResults(body, expected.length), body).toEqual(expected);
    }
  });

  it('agrees with the plain reading on generated replies', () => {
    const record = fc.oneof(
      fc.record({ ShardId: fc.constantFrom('shardId-000000000000', 'shardId-000000000001', 'shardId-000000000010'), SequenceNumber: fc.stringMatching(/^\d{1,56}$/) }),
      fc.record({ ErrorCode: fc.constantFrom('ProvisionedThroughputExceededException', 'InternalFailure', 'KMSThrottlingException'), ErrorMessage: fc.string({ maxLength: 40 }) }),
      fc.record({ ShardId: fc.string({ maxLength: 12 }) }, { requiredKeys: [] }),
    );
    const reply = fc.record({ FailedRecordCount: fc.nat(500), Records: fc.array(record, { maxLength: 60 }), EncryptionType: fc.constantFrom('NONE', 'KMS') }, { requiredKeys: ['Records'] });
    // Compact, spaced after every colon and comma (as some writers do; strings change alike for both readers), or indented.
    const layouts = [(json: string) => json, (json: string) => json.replace(/[:,]/g, '$& '), (json: string) => JSON.stringify(JSON.parse(json), null, 1)];
    fc.assert(
      fc.property(reply, fc.constantFrom(...layouts), (r, layout) => {
        const body = layout(JSON.stringify(r));
        expect(putRecordsResults(body, r.Records.length)).toEqual(reference(body));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a reply that does not account for every entry, or is not one', () => {
    const two = JSON.stringify({ FailedRecordCount: 0, Records: [accepted(0, 0), accepted(0, 1)] });
    expect(() => putRecordsResults(two, 3)).toThrow(expect.objectContaining({ name: 'InternalFailure', message: 'PutRecords answered 2 results for 3 entries' }));
    expect(() => putRecordsResults('<html>Service Unavailable</html>', 1)).toThrow(/not JSON: <html>Service Unavailable/);
    expect(() => putRecordsResults(two.slice(0, -3), 2)).toThrow(/not JSON/);
    expect(() => putRecordsResults(`${two}x`, 2)).toThrow(/not JSON/);
    expect(() => putRecordsResults('{"Records":[{"ShardId":"s"},7]}', 2)).toThrow(expect.objectContaining({ name: 'InternalFailure', message: 'PutRecords answered result 1 that is not an object' }));
    expect(() => putRecordsResults('{"Records":{"0":{}}}', 1)).toThrow(/0 results for 1 entries/);
  });
});
