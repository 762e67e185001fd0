/**
 * The per-device ledger: for every boot of every device, how many readings it
 * sent and which seqs were acknowledged, as compact ranges ([[1,500],[502,900]]).
 * This is what `device-sim audit` compares with the stream, so an
 * acknowledged reading that never arrives is loss, and one that arrives twice
 * is a duplicate. Acks usually arrive in order, so the common case is
 * extending the last range in O(1).
 */

export type Range = [number, number];

export class RangeSet {
  /** Flat sorted, non-overlapping, non-adjacent pairs: start0, end0, start1, end1, ... */
  private r: number[] = [];
  private n = 0;

  /** Number of integers in the set. */
  get size(): number {
    return this.n;
  }

  add(v: number): void {
    const r = this.r;
    const len = r.length;
    // Fast paths: extends the last range, or starts a new one after it.
    if (len === 0 || v > (r[len - 1] as number) + 1) {
      r.push(v, v);
      this.n++;
      return;
    }
    if (v === (r[len - 1] as number) + 1) {
      r[len - 1] = v;
      this.n++;
      return;
    }
    // General case: find the first range whose end >= v - 1.
    let lo = 0;
    let hi = len / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((r[mid * 2 + 1] as number) < v - 1) lo = mid + 1;
      else hi = mid;
    }
    const i = lo * 2;
    const start = r[i] as number;
    const end = r[i + 1] as number;
    if (v >= start && v <= end) return; // already present
    this.n++;
    if (v === start - 1) {
      r[i] = v;
      // may now touch the previous range
      if (i >= 2 && (r[i - 1] as number) === v - 1) r.splice(i - 1, 2);
    } else if (v === end + 1) {
      r[i + 1] = v;
      if (i + 2 < len && (r[i + 2] as number) === v + 1) r.splice(i + 1, 2);
    } else {
      r.splice(i, 0, v, v);
    }
  }

  has(v: number): boolean {
    const r = this.r;
    let lo = 0;
    let hi = r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((r[mid * 2 + 1] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo * 2 < r.length && (r[lo * 2] as number) <= v;
  }

  toArray(): Range[] {
    const out: Range[] = [];
    for (let i = 0; i < this.r.length; i += 2) out.push([this.r[i] as number, this.r[i + 1] as number]);
    return out;
  }

  static from(ranges: readonly Range[]): RangeSet {
    const s = new RangeSet();
    for (const [a, b] of ranges) for (let v = a; v <= b; v++) s.add(v);
    return s;
  }
}

/** Total count of integers in ranges. */
export function rangeCount(ranges: readonly Range[]): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a + 1;
  return n;
}

export interface BootRecord {
  boot: string;
  /** Readings sent under this boot: seqs 1..sent. */
  sent: number;
  acked: RangeSet;
  /** Seqs the device deliberately sent a second time (the duplicates fault). */
  duplicated: RangeSet;
}

export class DeviceLedger {
  readonly boots: BootRecord[] = [];
  sent = 0;
  acked = 0;

  constructor(
    readonly deviceId: string,
    boot: string,
  ) {
    this.startBoot(boot);
  }

  get current(): BootRecord {
    return this.boots[this.boots.length - 1] as BootRecord;
  }

  startBoot(boot: string): BootRecord {
    const rec: BootRecord = { boot, sent: 0, acked: new RangeSet(), duplicated: new RangeSet() };
    this.boots.push(rec);
    return rec;
  }

  recordSent(rec: BootRecord, seq: number): void {
    rec.sent = Math.max(rec.sent, seq);
    this.sent++;
  }

  recordAcked(rec: BootRecord, seq: number): void {
    const before = rec.acked.size;
    rec.acked.add(seq);
    if (rec.acked.size > before) this.acked++;
  }
}
