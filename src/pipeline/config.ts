import { z } from 'zod';
import { refineUniqueAlarmRules } from '../analytics/alarms/schema.js';
import { transformEntrySchema } from './transform-schemas.js';
// The schemas of the transforms shipped with tidegate register themselves on import.
import './transforms/schemas.js';

/** The `transforms` slice: each entry's keys are its type's own schema slice, from the registry. */
export const transformsSchema = z
  .array(transformEntrySchema)
  .max(64)
  .superRefine(refineUniqueAlarmRules)
  // The entries' output differs from their input (defaults filled in), and zod's JSON Schema of the input
  // leaves out an output default; `[]` is the same either way.
  .prefault([])
  .describe('Transforms between decode and the buffer, applied in order to every decoded reading. What a transform discards is still acknowledged and counted as filtered.');

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
    dropResends: z
      .boolean()
      .default(true)
      .describe(
        'With transforms or rules that keep state (windows, detectors): drop a reading its device sent again (same seq, no newer ts; QoS 1 resends after a reconnect or a crash), counted as filtered `resent_duplicate`, so no window counts it twice. Readings without seq and ts always pass. Default true.',
      ),
  })
  .strict()
  .describe('How the transforms and rules that keep state are driven.');

export type PipelineConfig = z.infer<typeof pipelineSchema>;
