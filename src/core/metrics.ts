/**
 * Monotonic counters by meaning (`*_total`, with a `reason` label where there is one) and a few gauges.
 * Counters rather than spiky gauges, so rates can be derived by whoever reads them.
 */
export type Labels = Record<string, string>;

function seriesKey(name: string, labels?: Labels): string {
  if (!labels) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return `${name}{${parts.join(',')}}`;
}

/** One counter series, resolved once; `inc` on the hot path is a single Map update. */
export interface Counter {
  inc(by?: number): void;
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();

  inc(name: string, labels?: Labels, by = 1): void {
    const key = seriesKey(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  counter(name: string, labels?: Labels): Counter {
    const key = seriesKey(name, labels);
    if (!this.counters.has(key)) this.counters.set(key, 0);
    return { inc: (by = 1) => this.counters.set(key, this.counters.get(key)! + by) };
  }

  /** Value of one series, or the sum over all label sets of `name` when no labels are given. */
  get(name: string, labels?: Labels): number {
    if (labels) return this.counters.get(seriesKey(name, labels)) ?? 0;
    let sum = 0;
    for (const [key, v] of this.counters) if (key === name || key.startsWith(`${name}{`)) sum += v;
    return sum;
  }

  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.counters);
    for (const [name, read] of this.gauges) out[name] = read();
    return out;
  }
}
