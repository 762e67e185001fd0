import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';

/** `deadband` (deadband-stage.ts): which values, and how far they must move to be reported. */
export const deadbandStageSchema = z
  .strictObject({
    fields: z.array(z.string().min(1).max(256)).min(1).max(64).describe('The values watched. A reading that carries none of them passes untouched.'),
    absolute: z.number().positive().optional().describe('Report when a value moved by more than this from the last reported value (in the value\'s unit). Exactly one of absolute or percent.'),
    percent: z.number().positive().max(1_000).optional().describe('Report when a value moved by more than this percentage of the last reported value (any move from 0). Exactly one of absolute or percent.'),
    maxSilenceMs: z
      .number()
      .int()
      .min(1_000)
      .max(7 * 86_400_000)
      .default(300_000)
      .describe('Heartbeat: a reading is reported anyway when the last report of any of its fields is this old (event time), so a flat sensor still shows it is alive. Default 300000 (5 min).'),
    maxSeries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(100_000)
      .describe('Device × field series remembered at most. When full, the series reported longest ago is forgotten (deadband_series_evicted_total); its next reading is reported. Default 100000.'),
  })
  .refine((c) => (c.absolute === undefined) !== (c.percent === undefined), { message: 'a deadband needs exactly one of `absolute` or `percent`' })
  .describe('Report by exception: passes a reading only when a watched value moved beyond the deadband from its last reported value, or at the heartbeat.');

export type DeadbandStageConfig = z.infer<typeof deadbandStageSchema>;

registerTransformSchema({ type: 'deadband', schema: deadbandStageSchema });
