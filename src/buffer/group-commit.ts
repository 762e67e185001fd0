import { TidegateError } from '../core/errors.js';

/**
 * Group commit: concurrent callers' writes join one batch, written (and fsynced) once. One write is in
 * flight at a time and a new one starts at most every `intervalMs`, so under load many readings share a
 * write, and at low rates a reading waits at most one interval. One fsync per batch, never per reading:
 * this is what keeps SD cards alive.
 */
export interface GroupCommitOptions<Op> {
  /** Writes one batch; `sync` when any of its submissions asked for it (an fsync, where durability says so). */
  write(ops: Op[], sync: boolean): Promise<void>;
  intervalMs: number;
  /** A batch this large is written without waiting for the interval to elapse. */
  maxOps: number;
  /**
   * A caller whose batch is not written within this time is rejected (its reading is then not acked, and
   * the device retransmits). One watchdog timer serves every caller, not a timer per reading.
   */
  writeTimeoutMs?: number;
  now?: () => number;
}

interface Waiter {
  since: number;
  settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommit<Op> {
  private pending: Op[] = [];
  /** Whether a submission in `pending` needs its batch synced. */
  private pendingSync = false;
  private waiters: Waiter[] = [];
  private inFlight: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastStart = -Infinity;
  private commitCount = 0;

  constructor(private readonly opts: GroupCommitOptions<Op>) {
    if (opts.writeTimeoutMs) {
      this.watchdog = setInterval(() => this.expire(), Math.max(10, Math.min(1_000, opts.writeTimeoutMs / 4))).unref();
    }
  }

  get commits(): number {
    return this.commitCount;
  }

  get pendingOps(): number {
    return this.pending.length;
  }

  /**
   * Ops join the next batch in call order; resolves once that batch is written. `sync: false` lets a
   * submission that may be lost in a power cut (a delivery cursor: the records are resent) skip the fsync
   * when nothing else in its batch needs one; a later synced batch makes it durable too (LevelDB's log is
   * written in order).
   */
  submit(ops: Op[], sync = true): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (sync) this.pendingSync = true;
      for (const op of ops) this.pending.push(op);
      this.waiters.push({ since: this.now(), settled: false, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.writing || this.pending.length > 0 || this.waiters.length > 0) {
      if (!this.writing) this.flushNow();
      await this.writing?.catch(() => undefined);
    }
  }

  /** Stops the watchdog; call after drain() when the store closes. */
  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private schedule(): void {
    if (this.writing || this.immediate) return;
    if (this.timer) {
      // A batch that reaches maxOps while waiting for the interval goes now.
      if (this.pending.length < this.opts.maxOps) return;
      clearTimeout(this.timer);
      this.timer = null;
    }
    const wait = this.pending.length >= this.opts.maxOps ? 0 : Math.max(0, this.lastStart + this.opts.intervalMs - this.now());
    // setImmediate lets every PUBLISH parsed from the same socket read join this batch.
    if (wait === 0) this.immediate = setImmediate(() => this.flushNow());
    else this.timer = setTimeout(() => this.flushNow(), wait);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    // A submission without ops still needs its batch: it carries ledger changes (a counted drop).
    if (this.writing || (this.pending.length === 0 && this.waiters.length === 0)) return;
    const ops = this.pending;
    const waiters = this.waiters;
    const sync = this.pendingSync;
    this.pendingSync = false;
    this.pending = [];
    this.waiters = [];
    this.inFlight = waiters;
    this.lastStart = this.now();
    this.writing = this.opts
      .write(ops, sync)
      .then(
        () => {
          this.commitCount += 1;
          for (const w of waiters) settle(w, null);
        },
        (err: unknown) => {
          for (const w of waiters) settle(w, err ?? new Error('write failed'));
        },
      )
      .finally(() => {
        this.writing = null;
        this.inFlight = [];
        // Waiters without ops (a filtered reading's ledger change) need a batch too: without this, one that
        // arrived during the write waited for the next submission with ops, and its device for its PUBACK.
        if (this.pending.length > 0 || this.waiters.length > 0) this.schedule();
      });
  }

  private expire(): void {
    const limit = this.opts.writeTimeoutMs!;
    const now = this.now();
    for (const list of [this.inFlight, this.waiters]) {
      for (const w of list) {
        if (!w.settled && now - w.since > limit) {
          settle(w, new TidegateError('ERR_TIMEOUT', `the buffer did not commit within ${limit} ms (is the disk stalled?)`, { retryable: true }));
        }
      }
    }
    this.waiters = this.waiters.filter((w) => !w.settled);
  }
}

function settle(w: Waiter, err: unknown): void {
  if (w.settled) return;
  w.settled = true;
  if (err === null) w.resolve();
  else w.reject(err);
}
