/**
 * zod schema of a field generator (one sensor value). Objects are strict, so a
 * misspelt key is an error with its path rather than a silently ignored knob.
 * Durations and ratios stay as written ("10s", "5%") and are converted where
 * they are used; that keeps input and output types equal for the recursive
 * `sum` generator.
 */
import { z } from 'zod';
import { parseDuration, parseRatio } from './units.js';

export const durationSchema = z
  .union([z.number(), z.string()])
  .refine((v) => parseDuration(v) !== null, {
    message: 'expected a duration such as "250ms", "10s", "5m", "1h" or a number of seconds',
  });

export const ratioSchema = z
  .union([z.number(), z.string()])
  .refine((v) => parseRatio(v) !== null, { message: 'expected a ratio from 0 to 1, such as 0.05 or "5%"' });

const num = z.number();

/** Applied to the generated value, in this order: spread (per-device offset), min/max clamp, round. */
const modifiers = {
  /** Each device adds its own constant offset, uniform in [-spread, +spread]: rooms are not identical. */
  spread: num.nonnegative().optional(),
  min: num.optional(),
  max: num.optional(),
  /** Decimal places; 0 gives integers. */
  round: z.number().int().min(0).max(9).optional(),
  /** false: computed (other fields can follow it) but not sent, e.g. the occupancy a CO2 sensor reacts to. */
  emit: z.boolean().optional(),
};

const members = [
  z.object({ type: z.literal('constant'), value: z.union([num, z.boolean(), z.string()]), ...modifiers }).strict(),
  /** A periodic wave on the reading's own ts; period 24h with peakAt "15h" is a daily cycle peaking at 15:00 UTC. */
  z
    .object({
      type: z.literal('sine'),
      mean: num.default(0),
      amplitude: num,
      period: durationSchema.default('24h'),
      peakAt: durationSchema.default(0),
      ...modifiers,
    })
    .strict(),
  /** Mean-reverting walk: each reading moves by up to ±step and is pulled back towards start by `reversion`. */
  z
    .object({
      type: z.literal('randomWalk'),
      start: num.default(0),
      step: num.positive(),
      reversion: z.number().min(0).max(1).default(0.02),
      ...modifiers,
    })
    .strict(),
  /** Holds one of `levels` for `hold`, then jumps to a random one (set points, machine states). */
  z.object({ type: z.literal('step'), levels: z.array(num).min(1), hold: durationSchema, ...modifiers }).strict(),
  /** `base`, and with `probability` per reading a spike of 50-100% of `magnitude`. */
  z
    .object({ type: z.literal('spike'), probability: ratioSchema, magnitude: num, base: num.default(0), ...modifiers })
    .strict(),
  z.object({ type: z.literal('noise'), sd: num.nonnegative(), mean: num.default(0), ...modifiers }).strict(),
  /** Values of one CSV column in order; `file` is relative to the scenario file. */
  z
    .object({
      type: z.literal('replay'),
      file: z.string().min(1),
      column: z.string().min(1),
      loop: z.boolean().default(true),
      /** Each device starts at its own row, so a fleet replaying one file does not move in lockstep. */
      offsetPerDevice: z.boolean().default(true),
      ...modifiers,
    })
    .strict(),
  /** People in a room: an office-hours curve peaking at `peakAt` (UTC), near zero at night and at weekends. */
  z
    .object({
      type: z.literal('occupancy'),
      capacity: num.positive(),
      peakAt: durationSchema.default('13h'),
      weekends: z.boolean().default(false),
      ...modifiers,
    })
    .strict(),
  /** offset + scale × another field of the same device, optionally lagging (smoothing 0.9 = slow). */
  z
    .object({
      type: z.literal('follow'),
      field: z.string().min(1),
      scale: num.default(1),
      offset: num.default(0),
      smoothing: z.number().min(0).max(0.999).default(0),
      ...modifiers,
    })
    .strict(),
  /** A cumulative meter: grows by perHour (or perHourFrom another field × scale) per hour of device time. */
  z
    .object({
      type: z.literal('counter'),
      start: num.default(0),
      perHour: num.nonnegative().optional(),
      perHourFrom: z.string().min(1).optional(),
      scale: num.default(1),
      ...modifiers,
    })
    .strict()
    .refine((g) => (g.perHour === undefined) !== (g.perHourFrom === undefined), {
      message: 'a counter needs exactly one of perHour (a number) or perHourFrom (a field name)',
    }),
  /** A two-state contact (doors, windows, alarms): switches on/off with these probabilities per reading. */
  z
    .object({
      type: z.literal('toggle'),
      onProbability: ratioSchema,
      offProbability: ratioSchema,
      start: z.boolean().default(false),
      emit: z.boolean().optional(),
    })
    .strict(),
] as const;

type NonSum = z.output<(typeof members)[number]>;
export type SumSpec = { type: 'sum'; of: GeneratorSpec[] } & { spread?: number; min?: number; max?: number; round?: number; emit?: boolean };
export type GeneratorSpec = NonSum | SumSpec;
export type GeneratorType = GeneratorSpec['type'];

const sumMember = z
  .object({ type: z.literal('sum'), of: z.array(z.lazy((): z.ZodType<GeneratorSpec> => generatorSchema)).min(1), ...modifiers })
  .strict();

export const GENERATOR_TYPES: readonly GeneratorType[] = [
  'constant', 'sine', 'randomWalk', 'step', 'spike', 'noise', 'replay', 'occupancy', 'follow', 'counter', 'toggle', 'sum',
];

export const generatorSchema: z.ZodType<GeneratorSpec> = z.discriminatedUnion('type', [...members, sumMember], {
  error: (iss) =>
    iss.code === 'invalid_union'
      ? `unknown or missing generator "type"; use one of ${GENERATOR_TYPES.join(', ')}`
      : undefined,
});

/** Names that carry the reading's identity and cannot be used for values. */
export const RESERVED_FIELDS = ['ts', 'seq', 'boot', 'deviceId', 'pad'] as const;

export const fieldNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'field names are 1-64 letters, digits, "_", "." or "-", starting with a letter or "_"')
  .refine((n) => !(RESERVED_FIELDS as readonly string[]).includes(n), {
    message: `${RESERVED_FIELDS.join(', ')} are reserved: the simulator sets them on every reading`,
  });

export const fieldsSchema = z.record(fieldNameSchema, generatorSchema);
export type FieldsSpec = Record<string, GeneratorSpec>;
