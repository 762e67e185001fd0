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

/** One counter series, resolved once; `inc` on the hot path is one property update (no Map lookup). */
export interface Counter {
  inc(by?: number): void;
}

/** A series' value in a cell of its own, so a resolved Counter updates it without hashing its key. */
interface Cell {
  value: number;
}

export class Metrics {
  private readonly counters = new Map<string, Cell>();
  private readonly gauges = new Map<string, () => number>();

  private cell(name: string, labels?: Labels): Cell {
    const key = seriesKey(name, labels);
    let cell = this.counters.get(key);
    if (!cell) this.counters.set(key, (cell = { value: 0 }));
    return cell;
  }

  inc(name: string, labels?: Labels, by = 1): void {
    this.cell(name, labels).value += by;
  }

  counter(name: string, labels?: Labels): Counter {
    const cell = this.cell(name, labels);
    return {
      inc: (by = 1) => {
        cell.value += by;
      },
    };
  }

  /** Value of one series, or the sum over all label sets of `name` when no labels are given. */
  get(name: string, labels?: Labels): number {
    if (labels) return this.counters.get(seriesKey(name, labels))?.value ?? 0;
    let sum = 0;
    for (const [key, cell] of this.counters) if (key === name || key.startsWith(`${name}{`)) sum += cell.value;
    return sum;
  }

  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, cell] of this.counters) out[key] = cell.value;
    for (const [name, read] of this.gauges) out[name] = read();
    return out;
  }
}
