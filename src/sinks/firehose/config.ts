import { z } from 'zod';
import { positiveInt } from '../../config/primitives.js';

/** The `firehose` slice: Amazon Data Firehose, for routes that name a delivery stream. */

export const firehoseSchema = z
  .object({
    region: z.string().min(1).optional().describe('Region of the delivery streams; unset: kinesis.region.'),
    endpoint: z.url().optional().describe("A Firehose-compatible endpoint URL; unset means AWS's own for the region. Required for Firehose routes with the bundled local emulator."),
    appendNewline: z.boolean().default(true).describe('Firehose writes records to S3 back to back: a newline after each makes the objects JSON lines.'),
    batch: z
      .object({
        // PutRecordBatch quotas: 500 records and 4 MiB per call.
        maxRecords: positiveInt.max(500).default(500).describe('Records per PutRecordBatch call (AWS quota: 500).'),
        maxBytes: positiveInt
          .max(4 * 1024 * 1024)
          .default(4 * 1024 * 1024)
          .describe('Bytes per PutRecordBatch call (AWS quota: 4 MiB).'),
      })
      .strict()
      .default({ maxRecords: 500, maxBytes: 4 * 1024 * 1024 })
      .describe('When a PutRecordBatch call closes.'),
  })
  .strict()
  .describe('Amazon Data Firehose, for routes that name a delivery stream. Credentials come from the standard AWS chain.');

export type FirehoseConfig = z.infer<typeof firehoseSchema>;
