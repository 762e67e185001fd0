import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { putRecordsBody } from '../../src/sinks/kinesis/lean-put-port.js';
import type { PutEntry } from '../../src/sinks/kinesis/port.js';

/** The body as the PutRecords JSON protocol defines it, built the plain way. */
function reference(streamName: string, entries: readonly PutEntry[]): string {
  return JSON.stringify({ StreamName: streamName, Records: entries.map((e) => ({ Data: Buffer.from(e.data).toString('base64'), PartitionKey: e.partitionKey })) });
}

describe('PutRecords body', () => {
  it('is byte for byte the JSON of the request, for data of every length modulo 3 and keys that need escaping', () => {
    const keys = ['th-042', 'a"b\\c', 'tab\there', 'ünïcødé', '温度計', '🌡️-7', 'lone \ud800 surrogate', 'x'.repeat(256)];
    const entries: PutEntry[] = keys.map((partitionKey, i) => ({ partitionKey, data: Buffer.from('{"v":' + 'x'.repeat(i) + '}') }));
    entries.push({ partitionKey: 'empty', data: new Uint8Array(0) });
    const body = putRecordsBody('stream-ü', entries);
    expect(body.toString('utf8')).toBe(reference('stream-ü', entries));
    expect(JSON.parse(body.toString('utf8')).Records).toHaveLength(entries.length);
  });

  it('encodes only the bytes of a view, not the whole buffer under it', () => {
    const whole = Buffer.from('HEADER{"deviceId":"d1"}TRAILER');
    const data = whole.subarray(6, whole.length - 7);
    const body = putRecordsBody('s', [{ partitionKey: 'd1', data }]);
    expect(Buffer.from(JSON.parse(body.toString('utf8')).Records[0].Data, 'base64').toString()).toBe('{"deviceId":"d1"}');
  });

  it('has no records array entries for an empty call', () => {
    expect(putRecordsBody('s', []).toString('utf8')).toBe('{"StreamName":"s","Records":[]}');
  });

  it('matches the plain JSON for any keys and data', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.array(fc.record({ partitionKey: fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }), data: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 20 }), (stream, entries) => {
        expect(putRecordsBody(stream, entries).toString('utf8')).toBe(reference(stream, entries));
      }),
      { numRuns: 300 },
    );
  });
});
