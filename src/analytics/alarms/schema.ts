import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';
import { webhookSchema } from './webhook-schema.js';

/** Names that become one MQTT topic level: no `/`, `+`, `#` or NUL ([MQTT-4.7.1]), no leading `$` ([MQTT-4.7.2]). */
const ruleName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, `_`, `.` and `-`, starting with a letter or digit (it becomes an MQTT topic level)');

const ms = (what: string) => z.number().int().min(0).max(7 * 24 * 3_600_000).describe(what);

const thresholdSchema = z
  .strictObject({
    kind: z.literal('threshold').describe('Raise when the value crosses `raise`, clear only once it is back past `clear` (hysteresis).'),
    direction: z.enum(['above', 'below']).default('above').describe('`above`: raise at value >= raise, clear at value <= clear; `below`: raise at value <= raise, clear at value >= clear.'),
    raise: z.number().describe('The level that raises the alarm.'),
    clear: z.number().optional().describe('The level that clears it; defaults to `raise`. Set it a little inside `raise` so a value hovering at the threshold makes one episode, not many.'),
  })
  .describe('A fixed threshold with separate raise and clear levels.');

const rateSchema = z
  .strictObject({
    kind: z.literal('rate').describe('Rate of change over a window, in units per second.'),
    windowMs: ms('The window (ms) the change is measured over: the newest value against the oldest one kept within it.').refine((v) => v > 0, 'must be positive'),
    maxPerSecond: z.number().positive().describe('Raise when the rate exceeds this (units per second, in the configured direction).'),
    clearPerSecond: z.number().nonnegative().optional().describe('Clear once the rate is back at or below this; defaults to `maxPerSecond`.'),
    direction: z.enum(['rise', 'fall', 'either']).default('either').describe('Which changes count: rises, falls or both.'),
    maxSamples: z.number().int().min(2).max(1024).default(64).describe('Values kept per series for the window; when full the oldest is dropped, so the change is measured over a shorter span. Default 64.'),
  })
  .describe('Rate of change over a sliding window.');

const flatlineSchema = z
  .strictObject({
    kind: z.literal('flatline').describe('A stuck sensor: the value does not move beyond `epsilon`.'),
    epsilon: z.number().nonnegative().default(0).describe('Changes up to this much count as no change. Default 0 (the exact same value).'),
    readings: z.number().int().min(2).max(1_000_000).optional().describe('Raise after this many readings in a row without a change.'),
    ms: ms('Raise after this long (ms) without a change.').refine((v) => v > 0, 'must be positive').optional(),
  })
  .refine((d) => d.readings !== undefined || d.ms !== undefined, 'set `readings`, `ms` or both')
  .describe('Stuck sensor / flatline detection.');

const missingSchema = z
  .strictObject({
    kind: z.literal('missing').describe('Silence: no reading of the series (or device, without `field`) for longer than expected, noticed with no reading arriving.'),
    expectedIntervalMs: ms('How long (ms) a series may be silent before the alarm is raised.').refine((v) => v > 0, 'must be positive'),
  })
  .describe('Missing data.');

const ewmaSchema = z
  .strictObject({
    kind: z.literal('ewma').describe('An exponentially weighted mean and variance; raise when a value lies too many standard deviations away.'),
    alpha: z.number().gt(0).lt(1).default(0.1).describe('Weight of the newest value (0–1): larger follows changes faster. Default 0.1.'),
    z: z.number().positive().default(3).describe('Raise at |z-score| >= this. Default 3.'),
    clearZ: z.number().nonnegative().optional().describe('Clear once |z| is below this; defaults to `z`.'),
    warmup: z.number().int().min(1).max(100_000).default(20).describe('Values learned before any judgement. Default 20.'),
    minStd: z.number().positive().default(1e-6).describe('Floor of the standard deviation, so a perfectly steady series does not alarm on noise-free rounding. Default 1e-6.'),
  })
  .describe('EWMA z-score.');

const madSchema = z
  .strictObject({
    kind: z.literal('mad').describe('Median and median absolute deviation over the last values: robust for skewed series and outliers.'),
    window: z.number().int().min(5).max(1024).default(101).describe('Values kept per series (the oldest leaves when full). Default 101.'),
    z: z.number().positive().default(3.5).describe('Raise at |robust z| = 0.6745·|x − median| / MAD >= this (Iglewicz and Hoaglin suggest 3.5). Default 3.5.'),
    clearZ: z.number().nonnegative().optional().describe('Clear once the robust z is below this; defaults to `z`.'),
    warmup: z.number().int().min(3).max(1024).default(20).describe('Values kept before any judgement. Default 20.'),
    minMad: z.number().positive().default(1e-6).describe('Floor of the MAD, so a series of identical values does not divide by zero. Default 1e-6.'),
  })
  .describe('Robust median/MAD score.');

const seasonalSchema = z
  .strictObject({
    kind: z.literal('seasonal').describe('A weekly baseline: each value is scored against the same hour of the week (168 slots, each an EWMA mean and variance).'),
    alpha: z.number().gt(0).lt(1).default(0.2).describe('Weight of the newest value within its slot (0–1). Default 0.2.'),
    z: z.number().positive().default(3).describe('Raise at |z-score| >= this against the slot. Default 3.'),
    clearZ: z.number().nonnegative().optional().describe('Clear once |z| is below this; defaults to `z`.'),
    warmup: z.number().int().min(1).max(10_000).default(4).describe('Values a slot learns before it judges (4: a month of one reading an hour). Default 4.'),
    minStd: z.number().positive().default(1e-6).describe('Floor of the standard deviation. Default 1e-6.'),
    utcOffsetMinutes: z.number().int().min(-14 * 60).max(14 * 60).default(0).describe('The site\'s offset from UTC in minutes, so slots follow local hours (a fixed offset: daylight saving time shifts the slots by an hour twice a year). Default 0.'),
  })
  .describe('Seasonal hour-of-week baseline.');

export const detectorSchema = z.discriminatedUnion('kind', [thresholdSchema, rateSchema, flatlineSchema, missingSchema, ewmaSchema, madSchema, seasonalSchema]).describe('What condition the rule watches for.');

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The `detect` transform: one rule, one detector, one alarm state machine per series. */
export const detectSchema = z
  .strictObject({
    rule: ruleName.describe('The alarm rule name: unique, it names the alarms, their topic (tidegate/alarms/<rule>/<device>) and the checkpointed state.'),
    field: z.string().min(1).max(256).optional().describe('The numeric value watched. Required except for `missing`, where without it any reading of the device counts.'),
    devices: z.array(z.string().min(1)).min(1).max(256).optional().describe('Only readings whose device id matches one of these globs (`*`, `?`); all when absent.'),
    groupBy: z.array(z.string().min(1)).min(1).max(8).optional().describe('Tag names (reading.tags) whose values key the series instead of the device: one alarm per group (a room, a line).'),
    severity: z.enum(SEVERITIES).default('major').describe('The severity alarms of this rule carry. Default major.'),
    detector: detectorSchema,
    raiseHoldMs: ms('How long (ms) the condition must hold before the alarm is raised. Default 0 (at once).').default(0),
    clearHoldMs: ms('How long (ms) the condition must be gone before the alarm clears. Default 0.').default(0),
    minReraiseMs: ms('After a clear, no new episode is raised for this long (ms), however the value flaps. Default 0.').default(0),
    maxSeries: z.number().int().min(1).max(100_000).default(10_000).describe('Series tracked at most. When full, the least recently seen series without an active alarm is forgotten (counted in alarm_series_evicted_total); if every series has an active alarm, the new series is not tracked (alarm_series_refused_total). Default 10000.'),
    readings: z.enum(['pass', 'consume']).default('pass').describe('What becomes of the readings the rule looks at: `pass` them on unchanged (default), or `consume` them (only the alarms are kept).'),
  })
  .superRefine((d, ctx) => {
    if (d.detector.kind !== 'missing' && d.field === undefined) ctx.addIssue({ code: 'custom', path: ['field'], message: `a ${d.detector.kind} detector needs the \`field\` it watches` });
    const det = d.detector;
    if (det.kind === 'threshold' && det.clear !== undefined) {
      const wrongSide = det.direction === 'above' ? det.clear > det.raise : det.clear < det.raise;
      if (wrongSide) ctx.addIssue({ code: 'custom', path: ['detector', 'clear'], message: `clear (${det.clear}) must be ${det.direction === 'above' ? 'at or below' : 'at or above'} raise (${det.raise}) for direction ${det.direction}` });
    }
  })
  .describe('Detects a condition per series and raises, clears and records alarms for it.');

export type DetectConfig = z.infer<typeof detectSchema>;
export type DetectorConfig = z.infer<typeof detectorSchema>;

/** The local notification of active alarms on the embedded broker (the `alarms:` section). */
export const alarmsSchema = z
  .strictObject({
    notify: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Publish each active alarm as a retained message on the embedded broker, so a local controller reacts with the uplink down. Default true.'),
        topicPrefix: z
          .string()
          .min(1)
          .max(128)
          .regex(/^[^#+$\u0000][^#+\u0000]*[^/#+\u0000]$|^[^#+$/\u0000]$/, 'an MQTT topic without wildcards, not starting with `$` and not ending with `/`')
          .default('tidegate/alarms')
          .describe('Topic prefix: an alarm is retained on <topicPrefix>/<rule>/<deviceId>. Subscribers need the subscribe ACL for it. Default tidegate/alarms.'),
        qos: z.union([z.literal(0), z.literal(1)]).default(1).describe('QoS of the alarm messages. Default 1.'),
        webhook: webhookSchema.optional(),
      })
      .default({ enabled: true, topicPrefix: 'tidegate/alarms', qos: 1 })
      .describe('Alarm notifications: retained messages on the embedded broker (`enabled`), and an optional HTTP webhook (independent of `enabled`).'),
  })
  .describe('Alarm notification.');

export type AlarmsConfig = z.infer<typeof alarmsSchema>;

/**
 * Alarm rule names must be unique: they name the alarms, their topics and the operator commands' target.
 * For a `superRefine` over a list of transform entries.
 */
export function refineUniqueAlarmRules(entries: readonly { type: string }[], ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (entry.type !== 'detect') return;
    const rule = (entry as { rule?: unknown }).rule;
    if (typeof rule !== 'string') return;
    const first = seen.get(rule);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'rule'], message: `alarm rule "${rule}" is already used by transforms[${first}]; rule names must be unique` });
    else seen.set(rule, i);
  });
}

// `type: detect`, in `transforms:` and in rule stages alike.
registerTransformSchema({ type: 'detect', schema: detectSchema });
