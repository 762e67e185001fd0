import { describe, expect, it } from 'vitest';
import { formatRecord } from '../../src/cli/tail.js';
import { encodeAggregate } from '../../src/kinesis-agg/aggregate.js';

describe('tidegate tail: formatRecord', () => {
  it('prints each reading of a KPL aggregate on its own line', () => {
    const readings = [{ id: 'gw-1', v: 1 }, { id: 'gw-2', v: 2 }].map((r) => Buffer.from(JSON.stringify(r)));
    const lines = formatRecord('shardId-000000000000', { Data: encodeAggregate('dev-1', readings), PartitionKey: 'dev-1', SequenceNumber: '1' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ id: 'gw-1', v: 1 }, { id: 'gw-2', v: 2 }]);
  });

  it('prints a plain JSON record as it is, and anything else as a described envelope', () => {
    expect(formatRecord('s', { Data: Buffer.from('{"a":1}'), PartitionKey: 'k', SequenceNumber: '1' })).toEqual(['{"a":1}']);
    const [line] = formatRecord('s', { Data: Buffer.from([0xff, 0x00]), PartitionKey: 'k', SequenceNumber: '2' });
    expect(JSON.parse(line!)).toMatchObject({ shardId: 's', partitionKey: 'k', dataBase64: '/wA=' });
  });

  it('says why an aggregate with a bad checksum could not be read, and keeps its bytes', () => {
    const data = encodeAggregate('k', [Buffer.from('{}'), Buffer.from('{}')]);
    data[data.length - 1]! ^= 0xff;
    const [line] = formatRecord('s', { Data: data, PartitionKey: 'k', SequenceNumber: '3' });
    expect(JSON.parse(line!)).toMatchObject({ error: expect.stringMatching(/checksum/), dataBase64: data.toString('base64') });
  });
});
