import { z } from 'zod';

/** How the transform chain's stateful stages (windows, deadbands, detectors) are driven and stopped. */
export const pipelineSchema = z
  .object({
    tickMs: z
      .number()
      .int()
      .min(50)
      .max(60_000)
      .default(1_000)
      .describe(
        'How often (ms) stateful transforms are told the time, so windows close and silence is noticed with no reading arriving. Smaller closes windows closer to their end, at a little CPU per tick. Default 1000.',
      ),
  })
  .strict()
  .describe('Timing of the transforms and rules that keep state.');

export type PipelineConfig = z.infer<typeof pipelineSchema>;
