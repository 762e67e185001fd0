import type { ReadingRef, SeriesKey } from './record.js';
import { isRaised, type AlarmState } from './state-machine.js';

/** Everything a rule knows about one series; a plain JSON value, checkpointed whole. */
export interface Series {
  key: SeriesKey;
  /** The detector's own state (baseline, samples, last seen). */
  detector: unknown;
  alarm: AlarmState;
  lastSeen: number;
  /** The last judgement, for transitions time makes with no reading. */
  value: number;
  threshold: number;
  /** The last few readings judged, newest last. */
  readings: ReadingRef[];
  /** The rule and detector config the state was made under: a restore under another config starts the baseline afresh. */
  rule: string;
  fingerprint: string;
}

export const MAX_READING_REFS = 5;

/**
 * The series of one rule, bounded. Map order is recency order (a series seen is moved to the end), so the
 * least recently seen comes first. When full, the least recently seen series without a raised alarm is
 * forgotten; a raised alarm is never forgotten (its clear must still be recorded), so when every series
 * holds one the new series is refused. Both are counted by the caller.
 */
export class SeriesTable {
  private readonly series = new Map<string, Series>();
  /** Ids written or removed since the last checkpoint. */
  readonly changed = new Set<string>();

  constructor(private readonly maxSeries: number) {}

  get size(): number {
    return this.series.size;
  }

  get(id: string): Series | undefined {
    return this.series.get(id);
  }

  /** Looks a series up and marks it most recently seen. */
  touch(id: string): Series | undefined {
    const s = this.series.get(id);
    if (s) {
      this.series.delete(id);
      this.series.set(id, s);
    }
    return s;
  }

  /** Adds a series, evicting if full; returns the evicted id, `refused` when nothing could make room. */
  add(id: string, s: Series): { evicted: string | null } | 'refused' {
    let evicted: string | null = null;
    if (this.series.size >= this.maxSeries) {
      for (const [candidate, existing] of this.series) {
        if (isRaised(existing.alarm)) continue;
        evicted = candidate;
        break;
      }
      if (evicted === null) return 'refused';
      this.series.delete(evicted);
      this.changed.add(evicted);
    }
    this.series.set(id, s);
    this.changed.add(id);
    return { evicted };
  }

  entries(): IterableIterator<[string, Series]> {
    return this.series.entries();
  }

  /** Forgets everything (restore replaces the whole state). */
  clear(): void {
    this.series.clear();
    this.changed.clear();
  }

  /** Puts a restored series in place, oldest seen first. */
  load(entries: Array<[string, Series]>): void {
    entries.sort((a, b) => a[1].lastSeen - b[1].lastSeen);
    for (const [id, s] of entries) this.series.set(id, s);
  }
}
