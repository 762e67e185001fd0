import type { Logger } from '../core/logger.js';
import type { DurableBuffer, Lane, StoredRecord } from '../buffer/types.js';
import type { Pending } from './sink.js';

export type { Pending };

/** Reads one lane of the buffer into a bounded window, in sequence order. */
export class LaneReader {
  readonly window: Pending[] = [];
  /** When set, reads stop here: a backlog reader ends where the live reader began. */
  upTo: number | undefined;

  constructor(
    readonly lane: Lane,
    public readSeq: number,
    readonly live: boolean,
  ) {}

  hasUndelivered(): boolean {
    return this.window.some((p) => !p.done);
  }

  /** Reads up to the free room of the window; returns how many records came in, or null when it had no room. */
  async fill(buffer: DurableBuffer, maxWindow: number, minRoom: number): Promise<number | null> {
    const room = maxWindow - this.window.length;
    if (room < minRoom) return null;
    const records = await buffer.read(this.lane, this.readSeq, room, { ...(this.upTo !== undefined ? { upTo: this.upTo } : {}), reader: this.live ? 'live' : 'default' });
    // Whole milliseconds (performance.now() counts from the process's start): a small integer sits in the
    // record's slot, where a fraction is a number object of its own per record, kept while the record waits
    // and is sent (issue "Pi-class efficiency"). A millisecond less of waiting for a partly filled call is
    // the only difference.
    const readAt = Math.floor(performance.now());
    // split -1: not decided yet; present from the start, so the dispatcher setting it adds no property.
    for (const record of records) this.window.push({ record, done: false, sending: false, removed: false, deadLettered: false, readAt, split: -1 });
    if (records.length > 0) this.readSeq = records[records.length - 1]!.seq;
    return records.length;
  }

  /**
   * Hands over what was handled since the last call: every handled record not yet removed (the buffer deletes
   * it now, so a crash cannot send it again), and for a default reader the new end of its handled prefix, where
   * its cursor moves. A live reader's cursor never moves: it reads ahead of it.
   */
  takeHandled(): { through: number | null; delivered: StoredRecord[]; deadLettered: StoredRecord[] } | null {
    const fresh = this.window.filter((p) => p.done && !p.removed);
    for (const p of fresh) p.removed = true;
    let through: number | null = null;
    if (this.live) {
      const rest = this.window.filter((p) => !p.done);
      this.window.length = 0;
      this.window.push(...rest);
    } else {
      let n = 0;
      while (n < this.window.length && this.window[n]!.done) n += 1;
      if (n > 0) through = this.window.splice(0, n)[n - 1]!.record.seq;
    }
    if (fresh.length === 0 && through === null) return null;
    return {
      through,
      delivered: fresh.filter((p) => !p.deadLettered).map((p) => p.record),
      deadLettered: fresh.filter((p) => p.deadLettered).map((p) => p.record),
    };
  }

}

/**
 * The telemetry lane's readers. Normally one, following the cursor. When the sink is more than `liveAfter`
 * readings behind (an outage ended), a second, live reader starts at the newest reading and goes first in
 * every call, while the first works through the backlog up to where the live one began, with the capacity
 * left over: live readings keep flowing instead of waiting behind a week of backlog. When the backlog is
 * done, the two become one again.
 */
export class TelemetryReaders {
  backlog: LaneReader;
  live: LaneReader | null = null;

  constructor(
    cursor: number,
    private readonly liveAfter: number,
    private readonly logger: Logger,
  ) {
    this.backlog = new LaneReader('telemetry', cursor, false);
  }

  /** In priority order: live first. */
  get all(): LaneReader[] {
    return this.live ? [this.live, this.backlog] : [this.backlog];
  }

  /**
   * Called after Kinesis accepted a call: if the sink is far behind (it just came back from an outage),
   * readings from now on take the live reader. Not during an outage: there, everything is backlog. If the live
   * reader itself falls behind in a later outage, it keeps its order and drains like a backlog.
   *
   * Far behind means many committed readings not yet read, not an old reading still in the window: a
   * straggler (a call in flight, a retried record) while the reader has read up to the head leaves nothing
   * for a backlog to drain, and going live then merged back at once ("far behind" and "backlog drained" a
   * few milliseconds apart, several times in a burst).
   */
  maybeGoLive(head: number): void {
    if (this.live) return;
    const unread = head - this.backlog.readSeq;
    if (unread < this.liveAfter) return;
    const oldest = this.backlog.window.find((p) => !p.done)?.record.seq ?? this.backlog.readSeq + 1;
    this.live = new LaneReader('telemetry', head, true);
    this.backlog.upTo = head;
    this.logger.info({ behind: head - oldest + 1, unread }, 'far behind: new readings go first, the backlog drains with the capacity left over');
  }

  /** Fills both readers; merges them once the backlog is read through. */
  async fill(buffer: DurableBuffer, maxWindow: number, minRoom: number): Promise<void> {
    if (this.live) await this.live.fill(buffer, maxWindow, minRoom);
    const got = await this.backlog.fill(buffer, maxWindow, minRoom);
    if (this.live && got === 0) this.merge();
  }

  private merge(): void {
    const live = this.live!;
    this.backlog.window.push(...live.window);
    this.backlog.readSeq = Math.max(this.backlog.readSeq, live.readSeq);
    this.backlog.upTo = undefined;
    this.live = null;
    this.logger.info('backlog drained: one reader again');
  }
}
