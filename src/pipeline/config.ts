import { z } from 'zod';
import { transformEntrySchema } from './registry.js';
// The transforms shipped with tidegate register themselves on import.
import './transforms/index.js';

/** The `transforms` slice: each entry's keys are its type's own schema slice, from the registry. */
export const transformsSchema = z
  .array(transformEntrySchema)
  .max(64)
  .default([])
  .describe('Transforms between decode and the buffer, applied in order to every decoded reading. What a transform discards is still acknowledged and counted as filtered.');
