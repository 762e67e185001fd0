/**
 * Bursts: windows in which a fleet sends N times as often (or, with a factor
 * below 1, a lull). A device's next reading is found by letting one interval
 * of "work" elapse through the piecewise-constant rate, so a device enters and
 * leaves a burst exactly at its edges instead of one (possibly long) interval
 * late, and stays in phase with the rest of its fleet.
 */

export interface Burst {
  atMs: number;
  durationMs: number;
  factor: number;
  /** Repeats every this many ms; undefined: once. */
  everyMs: number | undefined;
  /** Fleet indexes it applies to; undefined: all. */
  fleets: ReadonlySet<number> | undefined;
}

// A device's next time can cross at most this many window edges; a guard against pathological configs.
const MAX_EDGES = 10_000;

export class BurstSchedule {
  constructor(private readonly bursts: readonly Burst[]) {}

  get empty(): boolean {
    return this.bursts.length === 0;
  }

  private applies(b: Burst, fleet: number): boolean {
    return b.fleets === undefined || b.fleets.has(fleet);
  }

  /** Product of the factors of the windows active at t (ms since start). */
  factorAt(t: number, fleet: number): number {
    let f = 1;
    for (const b of this.bursts) {
      if (!this.applies(b, fleet) || t < b.atMs) continue;
      const into = b.everyMs === undefined ? t - b.atMs : (t - b.atMs) % b.everyMs;
      if (into < b.durationMs) f *= b.factor;
    }
    return f;
  }

  /** The first window edge strictly after t, or Infinity. */
  nextEdge(t: number, fleet: number): number {
    let next = Infinity;
    for (const b of this.bursts) {
      if (!this.applies(b, fleet)) continue;
      let start = b.atMs;
      if (b.everyMs !== undefined && t >= b.atMs) start = b.atMs + Math.floor((t - b.atMs) / b.everyMs) * b.everyMs;
      for (const edge of [start, start + b.durationMs, b.everyMs === undefined ? Infinity : start + b.everyMs]) {
        if (edge > t && edge < next) next = edge;
      }
    }
    return next;
  }

  /** When a device that last sent at `from` sends next, given its nominal interval. */
  advance(from: number, intervalMs: number, fleet: number): number {
    if (this.bursts.length === 0) return from + intervalMs;
    let t = from;
    let work = intervalMs;
    for (let i = 0; i < MAX_EDGES; i++) {
      const f = this.factorAt(t, fleet);
      const edge = this.nextEdge(t, fleet);
      const end = t + work / f;
      if (end <= edge) return end;
      work -= (edge - t) * f;
      t = edge;
    }
    return t + work / this.factorAt(t, fleet);
  }
}
