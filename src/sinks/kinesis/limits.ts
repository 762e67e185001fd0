/** Amazon Kinesis Data Streams limits (PutRecords API reference, "Quotas and limits"). */
export const KINESIS_MAX_RECORDS_PER_CALL = 500;
/** 5 MiB per PutRecords call, counting data plus partition keys. */
export const KINESIS_MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
/** 1 MiB per record, data plus partition key, before base64 (the default; a stream can be raised). */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;

/** The Kinesis sink's id: its cursors in the buffer are stored under it. */
export const KINESIS_SINK_ID = 'kinesis';

export interface BatchLimits {
  maxRecords: number;
  maxBytes: number;
  maxRecordBytes: number;
}
