import { createRequire } from 'node:module';

/**
 * KPL aggregates built by the `aws-kinesis-agg` package (AWS Labs' own implementation, independent of
 * tidegate's de-aggregator), so tests can check tidegate reads what other producers write.
 */
interface RecordAggregator {
  addUserRecord(r: { partitionKey: string; explicitHashKey?: string; data: Buffer }): void;
  build(): { partitionKey: string; data: Buffer; ExplicitHashKey?: string } | undefined;
}
interface AwsKinesisAgg {
  RecordAggregator: new () => RecordAggregator;
}

// Its type declarations import aws-sdk v2 and aws-lambda types that are not installed; the runtime is CommonJS.
const agg = createRequire(import.meta.url)('aws-kinesis-agg') as AwsKinesisAgg;

export interface UserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
}

/** One aggregated Kinesis record holding `records` in order; its partition key is the first record's. */
export function kplAggregate(records: readonly UserRecord[]): { partitionKey: string; data: Buffer } {
  const a = new agg.RecordAggregator();
  for (const r of records) a.addUserRecord(r.explicitHashKey === undefined ? { partitionKey: r.partitionKey, data: r.data } : { ...r });
  const built = a.build();
  if (!built) throw new Error('aws-kinesis-agg built nothing from an empty list');
  return { partitionKey: built.partitionKey, data: built.data };
}
