/**
 * KPL aggregation format (https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md):
 * the magic bytes F3 89 9A C2, a protobuf `AggregatedRecord`, then the 16-byte MD5 of that protobuf.
 */
export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
export const MD5_BYTES = 16;
