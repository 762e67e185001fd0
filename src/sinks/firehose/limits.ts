/** Amazon Data Firehose PutRecordBatch quotas: 500 records and 4 MiB per call, 1,000 KiB per record. */
export const FIREHOSE_MAX_RECORDS_PER_CALL = 500;
export const FIREHOSE_MAX_BYTES_PER_CALL = 4 * 1024 * 1024;
export const FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024;
