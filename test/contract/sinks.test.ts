import { pino } from 'pino';
import { Metrics } from '../../src/core/metrics.js';
import { FIREHOSE_MAX_BYTES_PER_CALL, FIREHOSE_MAX_RECORD_BYTES, FIREHOSE_MAX_RECORDS_PER_CALL } from '../../src/sinks/firehose/limits.js';
import { Destination } from '../../src/sinks/kinesis/destination.js';
import { KINESIS_MAX_BYTES_PER_CALL, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS_PER_CALL } from '../../src/sinks/kinesis/limits.js';
import { ScriptedRecordPort, sinkContract } from './sink.contract.js';

const logger = pino({ level: 'silent' });
const retry = { baseDelayMs: 20, maxDelayMs: 60_000 };
const calls = { requestTimeoutMs: 5_000 };

// The default stream and a Firehose delivery stream: the two sinks of the Kinesis dispatcher.
sinkContract('Kinesis stream', () => {
  const port = new ScriptedRecordPort();
  const limits = { maxRecords: KINESIS_MAX_RECORDS_PER_CALL, maxBytes: KINESIS_MAX_BYTES_PER_CALL, maxRecordBytes: KINESIS_MAX_RECORD_BYTES };
  const sink = new Destination(
    0,
    { kind: 'kinesis', name: 'contract-stream', port, limits, aggregation: { mode: 'none' }, pacer: null, shardRefreshMs: 300_000, learnRecordLimit: false, retry },
    calls,
    logger,
    new Metrics(),
  );
  return { sink, port, maxEntries: limits.maxRecords, maxRecordBytes: limits.maxRecordBytes };
});

sinkContract('Firehose delivery stream', () => {
  const port = new ScriptedRecordPort();
  const limits = { maxRecords: FIREHOSE_MAX_RECORDS_PER_CALL, maxBytes: FIREHOSE_MAX_BYTES_PER_CALL, maxRecordBytes: FIREHOSE_MAX_RECORD_BYTES };
  const sink = new Destination(
    1,
    { kind: 'firehose', name: 'contract-archive', port, limits, aggregation: { mode: 'none' }, pacer: null, shardRefreshMs: 300_000, learnRecordLimit: false, retry },
    calls,
    logger,
    new Metrics(),
  );
  return { sink, port, maxEntries: limits.maxRecords, maxRecordBytes: limits.maxRecordBytes };
});

sinkContract('Kinesis stream with KPL aggregation', () => {
  const port = new ScriptedRecordPort();
  const limits = { maxRecords: KINESIS_MAX_RECORDS_PER_CALL, maxBytes: KINESIS_MAX_BYTES_PER_CALL, maxRecordBytes: KINESIS_MAX_RECORD_BYTES };
  const sink = new Destination(
    0,
    { kind: 'kinesis', name: 'contract-agg', port, limits, aggregation: { mode: 'kpl', maxBytes: 25 * 1024 }, pacer: null, shardRefreshMs: 300_000, learnRecordLimit: false, retry },
    calls,
    logger,
    new Metrics(),
  );
  return { sink, port, maxEntries: limits.maxRecords, maxRecordBytes: limits.maxRecordBytes };
});
