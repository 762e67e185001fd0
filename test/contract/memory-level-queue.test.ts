import { MemoryLevel } from 'memory-level';
import { createMemoryBuffer } from '../../src/queue/memory-buffer.js';
import type { LevelQueue } from '../../src/queue/level-queue.js';
import { describeDurableQueue, GATEWAY_ID, SINK_ID, type QueueOptions, type QueueUnderTest } from './durable-queue.contract.js';

describeDurableQueue('LevelQueue on memory-level', async (opts: QueueOptions): Promise<QueueUnderTest> => {
  const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' });
  const make = async (): Promise<LevelQueue> => {
    const q = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], ...opts }, store);
    await q.open();
    return q;
  };
  let current = await make();
  const h: QueueUnderTest = {
    queue: current,
    async reopen() {
      await current.close();
      current = await make();
      h.queue = current;
      return current;
    },
    async dispose() {
      await current.close();
    },
  };
  return h;
});
