/**
 * When each device sends next: a binary min-heap of device indexes keyed by
 * their next due time (ms since the start), ties broken by index so equal
 * times go round-robin. One heap and one timer drive 10,000+ devices with
 * different intervals; a timer per device would not scale.
 */
export class DueHeap {
  private readonly heap: Int32Array;
  private n = 0;

  /** `due[d]` is device d's key; set it before push(d). */
  constructor(
    capacity: number,
    readonly due: Float64Array,
  ) {
    this.heap = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** The device due first (undefined behaviour when empty: check size). */
  peek(): number {
    return this.heap[0] as number;
  }

  private less(a: number, b: number): boolean {
    const da = this.due[a] as number;
    const db = this.due[b] as number;
    return da < db || (da === db && a < b);
  }

  push(d: number): void {
    const h = this.heap;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as number;
      if (!this.less(d, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = d;
  }

  pop(): number {
    const h = this.heap;
    const top = h[0] as number;
    const last = h[--this.n] as number;
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r] as number, h[l] as number) ? r : l;
      if (!this.less(h[c] as number, last)) break;
      h[i] = h[c] as number;
      i = c;
    }
    if (n > 0) h[i] = last;
    return top;
  }
}
