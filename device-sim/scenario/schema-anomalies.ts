/**
 * zod schema of a scenario's `anomalies` section: deliberate, known deviations
 * of a field's values (or of a device's silence) that alarm detectors should
 * find. Each entry selects devices, places one or more episodes in time
 * (at a fixed offset, or seeded-random within a range) and says what they do.
 * The kind decides which keys are needed; the checks below say so per key.
 */
import { z } from 'zod';
import { durationSchema, ratioSchema } from './schema-generators.js';

export const ANOMALY_KINDS = ['spike', 'step', 'drift', 'stuck', 'dropout', 'noise'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Kinds that last for `duration`; a spike lasts for a number of readings instead. */
const WITH_DURATION: readonly AnomalyKind[] = ['step', 'drift', 'stuck', 'dropout', 'noise'];
/** Kinds whose effect has a size: spike/step offset, drift end offset, noise standard deviation. */
const WITH_MAGNITUDE: readonly AnomalyKind[] = ['spike', 'step', 'drift', 'noise'];

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 letters, digits, "_", "." or "-"');

/** A number, or [min, max]: each episode draws its own magnitude uniformly from the range. */
const magnitudeSchema = z.union([z.number().refine(Number.isFinite, 'a finite number'), z.tuple([z.number(), z.number()])]);

export const anomalySchema = z
  .object({
    kind: z.enum(ANOMALY_KINDS),
    /** Only devices of these fleets (default: every fleet). */
    fleets: z.array(name).min(1).optional(),
    /** Only device ids matching one of these patterns ("*" matches any run of characters). */
    devices: z.array(z.string().min(1)).min(1).optional(),
    /** Share of the selected devices that get the anomaly, drawn per device from the seed (default 100%). */
    share: ratioSchema.optional(),
    /** The field it changes; not for dropout, which silences the whole device. */
    field: z.string().min(1).optional(),
    /** Fixed start, as an offset from the start of the run... */
    at: durationSchema.optional(),
    /** ...or a random start within [from, to) for each episode (default: anywhere in the run). */
    within: z.tuple([durationSchema, durationSchema]).optional(),
    /** Episodes per selected device; with several, the range is split into equal slots, one episode each. */
    count: z.number().int().min(1).max(10_000).default(1),
    duration: durationSchema.optional(),
    /** spike: how many consecutive readings are off (default 1). */
    readings: z.number().int().min(1).max(1000).optional(),
    magnitude: magnitudeSchema.optional(),
    /** noise, instead of magnitude: multiplies the variance of the field around its recent mean by this. */
    factor: z.number().min(1).max(1_000_000).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const issue = (path: string, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if (a.kind === 'dropout' && a.field !== undefined) issue('field', 'a dropout silences the whole device; remove field');
    if (a.kind !== 'dropout' && a.field === undefined) issue('field', `required: the field a ${a.kind} changes, e.g. field: temperature`);
    if (WITH_DURATION.includes(a.kind) && a.duration === undefined) issue('duration', `required: how long the ${a.kind} lasts, e.g. duration: 2m`);
    if (a.kind === 'spike' && a.duration !== undefined) issue('duration', 'a spike lasts a number of readings, not a time: use readings (default 1)');
    if (a.kind !== 'spike' && a.readings !== undefined) issue('readings', `readings is for spikes; a ${a.kind} lasts for duration`);
    if (a.factor !== undefined && a.kind !== 'noise') issue('factor', `factor is for noise (a variance multiplier); a ${a.kind} has none`);
    if (a.kind === 'noise' && a.factor !== undefined && a.magnitude !== undefined) issue('factor', 'give magnitude (the sd of added noise) or factor (a variance multiplier), not both');
    if (WITH_MAGNITUDE.includes(a.kind) && a.magnitude === undefined && !(a.kind === 'noise' && a.factor !== undefined)) {
      issue('magnitude', `required: ${a.kind === 'noise' ? 'the standard deviation of the added noise (or factor: a variance multiplier)' : 'the offset in the field\'s unit'}, a number or [min, max]`);
    }
    if (!WITH_MAGNITUDE.includes(a.kind) && a.magnitude !== undefined) issue('magnitude', `a ${a.kind} has no size; remove magnitude`);
    if (Array.isArray(a.magnitude) && a.magnitude[0] > a.magnitude[1]) issue('magnitude', `[min, max] needs min <= max (got [${a.magnitude.join(', ')}])`);
    if (a.at !== undefined && a.within !== undefined) issue('at', 'give at (a fixed start) or within (a random start), not both');
    if (a.at !== undefined && a.count > 1) issue('count', `${a.count} episodes cannot share one fixed start; use within: [from, to] for random starts`);
  });

export const anomaliesSchema = z.array(anomalySchema);

export type AnomalyDoc = z.output<typeof anomalySchema>;
