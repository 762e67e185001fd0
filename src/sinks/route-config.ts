import { z } from 'zod';
import { streamNameSchema } from './kinesis/config.js';

/** The `routes` slice: which destination a reading goes to when it is not kinesis.streamName. */

export const routeSchema = z
  .object({
    match: z
      .object({
        lane: z.enum(['alarm', 'telemetry']).optional().describe('Only readings of this lane.'),
        deviceId: z.string().min(1).optional().describe('Device id glob: `*` any run of characters, `?` one character.'),
        topic: z.string().min(1).optional().describe('MQTT topic filter on the topic the reading arrived on (`+` one level, `#` the rest).'),
        kind: z.enum(['reading', 'aggregate', 'alarm', 'derived']).optional().describe('Only records of this kind: device readings, aggregates of windows, alarms, or derived records of rules.'),
      })
      .strict()
      .default({})
      .describe('Every condition given must hold; a rule without conditions matches everything.'),
    kinesis: streamNameSchema.optional().describe('Another Kinesis stream, reached with the kinesis.* settings (region, endpoint, pacing, aggregation).'),
    firehose: streamNameSchema.max(64).optional().describe('A Firehose delivery stream, reached with the firehose.* settings.'),
  })
  .strict()
  .refine((r) => (r.kinesis === undefined) !== (r.firehose === undefined), { message: 'a route sends to exactly one of `kinesis` or `firehose`' });

export const routesSchema = z
  .array(routeSchema)
  .max(32)
  .default([])
  .describe(
    'Readings a rule matches go to its destination instead of kinesis.streamName; rules are tried in order and the first match wins (one destination per reading). For example alarms to their own stream, or a device group to Firehose.',
  );

export type RouteConfig = z.infer<typeof routeSchema>;
