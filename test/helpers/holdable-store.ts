import { MemoryLevel } from 'memory-level';
import type { BufferStore } from '../../src/buffer/open-store.js';

/**
 * A memory store whose batch writes wait for the test's go-ahead while held. `held()` resolves once a write
 * is waiting at the gate, so a test knows its commit is under way and not yet done.
 */
export function holdableStore(): { store: BufferStore; hold(): () => void; held(): Promise<void> } {
  const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' });
  let gate: Promise<void> | null = null;
  let arrived!: () => void;
  let arrival = new Promise<void>((resolve) => (arrived = resolve));
  const batch = store.batch.bind(store) as (...args: unknown[]) => unknown;
  (store as unknown as { batch: (...args: unknown[]) => unknown }).batch = (...args: unknown[]) => {
    const chained = batch(...args) as { write: (opts?: unknown) => Promise<void> };
    if (args.length > 0) return chained;
    const write = chained.write.bind(chained);
    chained.write = async (opts?: unknown) => {
      if (gate) {
        arrived();
        await gate;
      }
      return write(opts);
    };
    return chained;
  };
  return {
    store: store as unknown as BufferStore,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      arrival = new Promise<void>((resolve) => (arrived = resolve));
      return () => {
        gate = null;
        release();
      };
    },
    held: () => arrival,
  };
}
