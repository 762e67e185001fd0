import type { Logger } from '../core/logger.js';
import { describeError } from '../core/errors.js';
import { recordKey } from './record-codec.js';
import { LANES, type Lane } from './types.js';

/** What compaction needs of the store: classic-level has both; stores that lack them are not compacted. */
export interface CompactableStore {
  approximateSize(start: string, end: string): Promise<number>;
  compactRange(start: string, end: string): Promise<void>;
}

export interface DeliveredCompactionOptions {
  /** Bytes of delivered records between two looks at what the delivered range still holds on disk. */
  everyBytes: number;
  /** The least the delivered range must occupy in table files for it to be compacted. */
  minTableBytes: number;
  logger: Logger;
}

/** Looks after every 4 MiB of records delivered, and compacts once the delivered range holds a table file's worth (LevelDB's are 2 MiB). */
export const DEFAULT_DELIVERED_COMPACTION: Omit<DeliveredCompactionOptions, 'logger'> = { everyBytes: 4 * 1024 * 1024, minTableBytes: 2 * 1024 * 1024 };

/**
 * Compacts the key range of records the sink has delivered, so LevelDB deletes the table files that held
 * them.
 *
 * Why: a delete in LevelDB is a tombstone; the record it hides stays in its table file until a compaction
 * brings the two together, and LevelDB only compacts a level once it outgrows its size. So after a backlog
 * is drained, the files that held it stay on disk, and those the drain read stay memory-mapped: LevelDB maps
 * every table it reads (up to 1,000 on a 64-bit machine, a limit classic-level does not expose) and keeps
 * it mapped until the file is deleted. Those pages count in the gateway's resident memory (issue 15: 17 MiB
 * of the 1,000,000-reading drain's 115 MiB peak were 18 such tables).
 *
 * Below a lane's cursor every record has been removed, so what is compacted is one range per lane: from
 * where the last compaction ended up to the cursor. Records a live reader removed ahead of the cursor, and
 * those the pruner dropped, join the range once the cursor passes them: a range that still holds records
 * is never compacted. The range is compacted only if it holds table files (`approximateSize`); what is
 * still in the memtable, as at a steady rate, costs nothing. One compaction runs at a time, off the main
 * thread (a libuv worker waits while LevelDB compacts); a failed one is logged and tried again after the
 * next `everyBytes` delivered, and never fails a delivery.
 */
export class DeliveredCompaction {
  private readonly from: Record<Lane, number> = { telemetry: 0, alarm: 0 };
  private readonly upTo: Record<Lane, number> = { telemetry: 0, alarm: 0 };
  private readonly pendingBytes: Record<Lane, number> = { telemetry: 0, alarm: 0 };
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly db: () => CompactableStore,
    private readonly opts: DeliveredCompactionOptions,
  ) {}

  /** Called once a batch that removed `bytes` of records of `lane` has been written; `cursor` is the lane's cursor after it. */
  removed(lane: Lane, cursor: number, bytes: number): void {
    if (cursor > this.upTo[lane]) this.upTo[lane] = cursor;
    this.pendingBytes[lane] += bytes;
    if (this.running || this.stopped || this.pendingBytes[lane] < this.opts.everyBytes) return;
    this.running = this.run().finally(() => {
      this.running = null;
    });
  }

  /**
   * Resolves once no compaction runs. A run looks again at what was removed meanwhile before it ends, so by
   * then every removal reported so far has been looked at (unless stop() cut it short).
   */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops starting compactions and waits for the one running: the store must not close under it. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async run(): Promise<void> {
    // Removals that came while a compaction ran are looked at when it ends, not left for the next removal.
    for (let lane = this.dueLane(); lane !== null && !this.stopped; lane = this.dueLane()) {
      this.pendingBytes[lane] = 0;
      await this.compact(lane);
    }
  }

  /** A lane with at least `everyBytes` removed since its last look, or null. */
  private dueLane(): Lane | null {
    return LANES.find((lane) => this.pendingBytes[lane] >= this.opts.everyBytes) ?? null;
  }

  private async compact(lane: Lane): Promise<void> {
    const start = recordKey(lane, this.from[lane]);
    const upTo = this.upTo[lane];
    const end = recordKey(lane, upTo);
    try {
      const onDisk = await this.db().approximateSize(start, end);
      if (onDisk < this.opts.minTableBytes) return;
      await this.db().compactRange(start, end);
      this.from[lane] = upTo;
    } catch (err) {
      this.opts.logger.warn({ lane, err: describeError(err) }, 'compacting delivered records failed; will try again after the next deliveries');
    }
  }
}
