import { MemoryLevel } from 'memory-level';
import type { BufferStore } from '../../src/buffer/open-store.js';

type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
type Write = (...args: unknown[]) => Promise<void>;

/**
 * An in-memory store that records which writes asked for `sync: true`. A power cut keeps only writes that a
 * synced write followed (or that were synced themselves), as LevelDB's fault-injection env drops unsynced data.
 */
export class PowerCutStore extends MemoryLevel<string, string> {
  private readonly log: Array<{ ops: Op[]; sync: boolean }> = [];

  constructor() {
    super({ valueEncoding: 'utf8' });
    const self = this as unknown as Record<'_put' | '_del' | '_batch', Write>;
    const wrap = (name: '_put' | '_del' | '_batch', toOps: (args: unknown[]) => Op[], optsAt: number): void => {
      const write = self[name].bind(this);
      self[name] = async (...args) => {
        await write(...args);
        this.log.push({ ops: toOps(args), sync: (args[optsAt] as { sync?: boolean } | undefined)?.sync === true });
      };
    };
    wrap('_put', (a) => [{ type: 'put', key: String(a[0]), value: String(a[1]) }], 2);
    wrap('_del', (a) => [{ type: 'del', key: String(a[0]) }], 1);
    wrap('_batch', (a) => (a[0] as Op[]).map((o) => (o.type === 'put' ? { type: 'put', key: String(o.key), value: String(o.value) } : { type: 'del', key: String(o.key) })), 1);
  }

  /** The store after a power cut: every write up to the last synced one, nothing after it. */
  async powerCut(): Promise<BufferStore> {
    let last = -1;
    this.log.forEach((w, i) => (w.sync ? (last = i) : undefined));
    const next = new MemoryLevel<string, string>({ valueEncoding: 'utf8' });
    await next.open();
    const ops = this.log.slice(0, last + 1).flatMap((w) => w.ops);
    if (ops.length > 0) await next.batch(ops);
    await next.close();
    return next as unknown as BufferStore;
  }

  asBufferStore(): BufferStore {
    return this as unknown as BufferStore;
  }
}
