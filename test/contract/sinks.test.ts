import { pino } from 'pino';
import { Metrics } from '../../src/core/metrics.js';
import { FIREHOSE_MAX_BYTES_PER_CALL, FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORDS_PER_CALL } from '../../src/sinks/firehose/limits.js';
import { Destination, type DestinationKind } from '../../src/sinks/kinesis/destination.js';
import { KINESIS_MAX_BYTES_PER_CALL, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS_PER_CALL, type BatchLimits } from '../../src/sinks/kinesis/limits.js';
import type { Aggregation } from '../../src/sinks/kinesis/plan-call.js';
import { ScriptedRecordPort, sinkContract, type SinkUnderTest } from './sink.contract.js';

const KINESIS: BatchLimits = { maxRecords: KINESIS_MAX_RECORDS_PER_CALL, maxBytes: KINESIS_MAX_BYTES_PER_CALL, maxRecordBytes: KINESIS_MAX_RECORD_BYTES };
const FIREHOSE: BatchLimits = { maxRecords: FIREHOSE_MAX_RECORDS_PER_CALL, maxBytes: FIREHOSE_MAX_BYTES_PER_CALL, maxRecordBytes: FIREHOSE_MAX_RECORD_BYTES };

/** A destination over a scripted port, with the AWS limits of its kind, unpaced. */
function destination(index: number, kind: DestinationKind, name: string, limits: BatchLimits, aggregation: Aggregation = { mode: 'none' }): SinkUnderTest {
  const port = new ScriptedRecordPort();
  const options = { kind, name, port, limits, aggregation, pacer: null, shardRefreshMs: 300_000, learnRecordLimit: false, retry: { baseDelayMs: 20, maxDelayMs: 60_000 } };
  const sink = new Destination(index, options, { requestTimeoutMs: 5_000 }, pino({ level: 'silent' }), new Metrics());
  return { sink, port, maxEntries: limits.maxRecords, maxRecordBytes: limits.maxRecordBytes };
}

// The default stream and a Firehose delivery stream: the two sinks of the Kinesis dispatcher.
sinkContract('Kinesis stream', () => destination(0, 'kinesis', 'contract-stream', KINESIS));
sinkContract('Firehose delivery stream', () => destination(1, 'firehose', 'contract-archive', FIREHOSE));
sinkContract('Kinesis stream with KPL aggregation', () => destination(0, 'kinesis', 'contract-agg', KINESIS, { mode: 'kpl', maxBytes: 25 * 1024 }));
