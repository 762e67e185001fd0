/**
 * Group commit: concurrent callers' writes join one batch, written (and fsynced) once. One write is in
 * flight at a time and a new one starts at most every `intervalMs`, so under load many readings share a
 * write, and at low rates a reading waits at most one interval. One fsync per batch, never per reading:
 * this is what keeps SD cards alive.
 */
export interface GroupCommitOptions<Op> {
  write(ops: Op[]): Promise<void>;
  intervalMs: number;
  /** A batch this large is written without waiting for the interval to elapse. */
  maxOps: number;
  now?: () => number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommit<Op> {
  private pending: Op[] = [];
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private lastStart = -Infinity;
  private commitCount = 0;

  constructor(private readonly opts: GroupCommitOptions<Op>) {}

  get commits(): number {
    return this.commitCount;
  }

  get pendingOps(): number {
    return this.pending.length;
  }

  /** Ops join the next batch in call order; resolves once that batch is written. */
  submit(ops: Op[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.pending.push(op);
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.writing || this.pending.length > 0) {
      if (!this.writing) this.flushNow();
      await this.writing?.catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.writing || this.timer || this.immediate) return;
    const now = (this.opts.now ?? Date.now)();
    const wait = this.pending.length >= this.opts.maxOps ? 0 : Math.max(0, this.lastStart + this.opts.intervalMs - now);
    // setImmediate lets every PUBLISH parsed from the same socket read join this batch.
    if (wait === 0) this.immediate = setImmediate(() => this.flushNow());
    else this.timer = setTimeout(() => this.flushNow(), wait);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.writing || this.pending.length === 0) return;
    const ops = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.lastStart = (this.opts.now ?? Date.now)();
    this.writing = this.opts.write(ops).then(
      () => {
        this.commitCount += 1;
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    ).finally(() => {
      this.writing = null;
      if (this.pending.length > 0) this.schedule();
    });
  }
}
