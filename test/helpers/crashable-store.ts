import { MemoryLevel } from 'memory-level';
import type { BufferStore } from '../../src/buffer/open-store.js';

type Write = (...args: unknown[]) => Promise<void>;

/**
 * An in-memory store that can die like a process: after `crash()` every write on it hangs for ever (the
 * caller never learns whether it landed), and the returned store holds exactly the batches applied before.
 */
export class CrashableStore extends MemoryLevel<string, string> {
  private dead = false;

  constructor() {
    super({ valueEncoding: 'utf8' });
    const self = this as unknown as Record<'_put' | '_del' | '_batch', Write>;
    for (const name of ['_put', '_del', '_batch'] as const) {
      const write = self[name].bind(this);
      self[name] = (...args) => (this.dead ? new Promise<void>(() => undefined) : write(...args));
    }
  }

  /** What survives the crash: a new store holding what this one holds now; this one writes nothing more. */
  async crash(): Promise<CrashableStore> {
    this.dead = true;
    const next = new CrashableStore();
    await next.open();
    const ops: Array<{ type: 'put'; key: string; value: string }> = [];
    for await (const [key, value] of this.iterator()) ops.push({ type: 'put', key, value });
    if (ops.length > 0) await next.batch(ops);
    await next.close();
    return next;
  }

  asBufferStore(): BufferStore {
    return this as unknown as BufferStore;
  }
}
