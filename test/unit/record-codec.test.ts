import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeStoredValue, encodeRecordBody, encodeStoredRecord, encodeStoredValue, recordKey, withRecordId } from '../../src/buffer/record-codec.js';

describe('stored record encoding', () => {
  it('writes the same bytes as splicing the id into the body and encoding the joined value', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 32 }),
        fc.nat(),
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ unit: 'binary' }), fc.boolean())),
        (deviceId, gatewayId, seq, values) => {
          const body = encodeRecordBody({ deviceId, topic: `devices/${deviceId}/t`, receivedAt: 1_700_000_000_000, values });
          const direct = encodeStoredRecord(deviceId, gatewayId, seq, body);
          expect(direct.equals(encodeStoredValue(deviceId, withRecordId(gatewayId, seq, body)))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads back as the record it was made from, with its id first and its checksum valid', () => {
    const body = encodeRecordBody({ deviceId: 'thermo-ü', topic: 'devices/thermo-ü/t', receivedAt: 5, values: { t: 21.5 } });
    const stored = decodeStoredValue('telemetry', recordKey('telemetry', 42), encodeStoredRecord('thermo-ü', 'gw-1', 42, body));
    expect(stored.partitionKey).toBe('thermo-ü');
    expect(stored.seq).toBe(42);
    const record = JSON.parse(Buffer.from(stored.data).toString('utf8'));
    expect(Object.keys(record)[0]).toBe('id');
    expect(record).toMatchObject({ id: 'gw-1-42', deviceId: 'thermo-ü', values: { t: 21.5 } });
  });
});
