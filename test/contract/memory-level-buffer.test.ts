import { MemoryLevel } from 'memory-level';
import { createMemoryBuffer } from '../../src/buffer/memory-buffer.js';
import type { LevelBuffer } from '../../src/buffer/level-buffer.js';
import { describeDurableBuffer, GATEWAY_ID, reopenable, SINK_ID, type BufferOptions, type BufferUnderTest } from './durable-buffer.contract.js';

describeDurableBuffer('LevelBuffer on memory-level', async (opts: BufferOptions): Promise<BufferUnderTest> => {
  const store = new MemoryLevel<string, string>({ valueEncoding: 'utf8' });
  const make = async (): Promise<LevelBuffer> => {
    const q = createMemoryBuffer({ gatewayId: GATEWAY_ID, sinkIds: [SINK_ID], ...opts }, store);
    await q.open();
    return q;
  };
  return reopenable(make);
});
