import { createHash } from 'node:crypto';

/**
 * The hash key Kinesis gives a partition key: its MD5 read as a 128-bit unsigned big-endian integer
 * (Kinesis developer guide, "Partition key"). The shard whose [StartingHashKey, EndingHashKey] contains it
 * receives the record.
 */
export function hashKeyOf(partitionKey: string): bigint {
  const digest = createHash('md5').update(partitionKey, 'utf8').digest();
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
}
