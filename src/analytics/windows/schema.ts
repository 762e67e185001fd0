import { z } from 'zod';
import { registerTransformSchema } from '../../pipeline/transform-schemas.js';
import { BASIC_AGGREGATES, PERCENTILE } from './aggregate-names.js';

const aggregateName = z
  .string()
  .refine((name) => (BASIC_AGGREGATES as readonly string[]).includes(name) || PERCENTILE.test(name), {
    message: `an aggregate is one of ${BASIC_AGGREGATES.join(', ')} or a percentile p0..p100 (p95, p99.9)`,
  })
  .describe('An aggregate computed per field: count, sum, min, max, mean, stddev (population), first, last, rate (change per second), or a percentile pN');

/**
 * `window`: folds readings into windows per key and emits one `aggregate` record per closed window.
 * The default lateness of 5 s is chosen over 0 (the Flink and eKuiper default, which drops every reading that
 * arrives after a newer one) because QoS 1 resends and batched uplinks routinely reorder readings by a few
 * seconds; it holds each window open only 5 s of event time past its end.
 */
export const windowSchema = z
  .strictObject({
    name: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.-]+$/).optional().describe('The name aggregates carry (result.rule and the topic); the transform id when absent'),
    kind: z.enum(['tumbling', 'hopping', 'sliding', 'session', 'count']).describe('tumbling (sizeMs), hopping (sizeMs, hopMs), sliding (one window per reading looking back sizeMs), session (gapMs, maxLengthMs), count (count, slide)'),
    sizeMs: z.number().int().positive().max(31 * 86_400_000).optional().describe('Window length in ms (tumbling, hopping, sliding); windows are aligned to the epoch'),
    hopMs: z.number().int().positive().optional().describe('Hopping only: how far each window starts after the previous one; each reading falls in ceil(sizeMs / hopMs) windows'),
    gapMs: z.number().int().positive().optional().describe('Session only: a session closes after this much event time without a reading of its key'),
    maxLengthMs: z.number().int().positive().optional().describe('Session only: a session never spans more than this; a reading past it starts a new session'),
    count: z.number().int().positive().max(100_000).optional().describe('Count only: readings per window'),
    slide: z.number().int().positive().optional().describe('Count only: a new window starts every `slide` readings (default `count`: tumbling)'),
    time: z.enum(['event', 'processing']).default('event').describe('event: the device ts (receivedAt when absent); processing: receivedAt, windows closed by the gateway clock'),
    allowedLatenessMs: z.number().int().min(0).max(86_400_000).default(5_000).describe('How far behind the newest reading of its key a reading may be and still count; later ones go to the late side output'),
    maxFutureMs: z.number().int().positive().default(300_000).describe('A reading whose ts is further ahead of its receivedAt is not taken (it would carry its key\'s watermark into the future): it goes to the late side output with tags.future, counted'),
    idleTimeoutMs: z.number().int().positive().optional().describe('A key silent this long (gateway clock) has its open windows closed; default: the window length plus allowedLatenessMs'),
    keyRetentionMs: z.number().int().positive().default(86_400_000).describe('How long a key with no open window keeps its watermark, so a reading for an already emitted window stays late'),
    groupBy: z.array(z.string().min(1)).min(1).max(8).default(['deviceId']).describe('Key fields: deviceId, or tag names (reading.tags, e.g. room, floor, site), or value names'),
    fields: z.array(z.string().min(1)).min(1).max(64).describe('The numeric values to aggregate; a reading with none of them passes by untouched'),
    aggregates: z.array(aggregateName).min(1).max(32).default(['count', 'mean', 'min', 'max']).describe('What to compute per field; each becomes a value `<field>_<aggregate>`'),
    late: z.enum(['side_output', 'pass']).default('side_output').describe('side_output: a late reading is filtered (reason late, counted) and re-emitted as a derived record tagged late; pass: it goes on unchanged but tagged late'),
    maxOpenWindows: z.number().int().positive().max(10_000_000).default(100_000).describe('Bound on open windows over all keys; when reached, the oldest window is closed early (closedBy bound, counted)'),
    maxKeys: z.number().int().positive().max(10_000_000).default(100_000).describe('Bound on keys kept; past it the longest-quiet keys without an open window are forgotten (their watermark with them), counted'),
    maxValuesPerWindow: z.number().int().positive().max(1_000_000).default(10_000).describe('Values kept per field and window for percentiles (and readings kept per key by sliding windows); past it percentiles come from a deterministic uniform sample and say approximate'),
    onStop: z.enum(['emit', 'keep']).default('emit').describe('On a graceful stop: emit open windows as partial aggregates (their ranges then count as closed), or keep them in the checkpointed state to continue after the restart'),
    topic: z.string().min(1).optional().describe('Topic of the aggregate records; default tidegate/aggregates/<name>'),
  })
  .superRefine((c, ctx) => {
    const need = (key: keyof typeof c, why: string) => {
      if (c[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required for ${c.kind} windows (${why})` });
    };
    const forbid = (keys: (keyof typeof c)[]) => {
      for (const key of keys) if (c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} does not apply to ${c.kind} windows` });
    };
    if (c.kind === 'tumbling' || c.kind === 'sliding') (need('sizeMs', 'the window length'), forbid(['hopMs', 'gapMs', 'maxLengthMs', 'count', 'slide']));
    if (c.kind === 'hopping') {
      need('sizeMs', 'the window length');
      need('hopMs', 'the distance between window starts');
      forbid(['gapMs', 'maxLengthMs', 'count', 'slide']);
      if (c.sizeMs && c.hopMs && (c.hopMs > c.sizeMs || c.sizeMs / c.hopMs > 100))
        ctx.addIssue({ code: 'custom', path: ['hopMs'], message: 'hopMs must be at most sizeMs and at least sizeMs / 100 (a reading joins sizeMs / hopMs windows)' });
    }
    if (c.kind === 'session') (need('gapMs', 'the silence that ends a session'), forbid(['sizeMs', 'hopMs', 'count', 'slide']));
    if (c.kind === 'count') {
      need('count', 'readings per window');
      forbid(['sizeMs', 'hopMs', 'gapMs', 'maxLengthMs']);
      if (c.count && c.slide && (c.slide > c.count || c.count / c.slide > 100))
        ctx.addIssue({ code: 'custom', path: ['slide'], message: 'slide must be at most count and at least count / 100' });
    }
  });

export type WindowConfig = z.infer<typeof windowSchema>;

registerTransformSchema({ type: 'window', schema: windowSchema });
