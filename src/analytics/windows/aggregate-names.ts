// The aggregate names a window accepts, shared by its schema and its aggregation (no zod here: the running
// gateway does not load the config's schemas).

/** Aggregates every window can compute per field; `p<N>` (`p50`, `p95`, `p99.9`) are percentiles. */
export const BASIC_AGGREGATES = ['count', 'sum', 'min', 'max', 'mean', 'stddev', 'first', 'last', 'rate'] as const;
export type BasicAggregate = (typeof BASIC_AGGREGATES)[number];
export const PERCENTILE = /^p(100|[0-9]{1,2}(\.[0-9]{1,3})?)$/;

/** The percentile (0..100) an aggregate name asks for, or undefined when it is not a percentile. */
export function percentileOf(name: string): number | undefined {
  return PERCENTILE.test(name) ? Number(name.slice(1)) : undefined;
}
