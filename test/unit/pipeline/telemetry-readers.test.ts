import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../../src/buffer/types.js';
import { TelemetryReaders } from '../../../src/pipeline/lane-readers.js';

const record = (seq: number): StoredRecord => ({ lane: 'telemetry', seq, partitionKey: 'dev-1', data: Buffer.from('{}'), bytes: 10 });
const pending = (seq: number, done: boolean) => ({ record: record(seq), done, sending: !done, removed: false, deadLettered: false });

describe('TelemetryReaders: going live', () => {
  const LIVE_AFTER = 5_000;

  it('goes live when many committed readings are not yet read (an outage ended)', () => {
    const readers = new TelemetryReaders(0, LIVE_AFTER, pino({ level: 'silent' }));
    // One window read after the cursor, the head far beyond it.
    for (let seq = 1; seq <= 3_000; seq++) readers.backlog.window.push(pending(seq, seq <= 500));
    readers.backlog.readSeq = 3_000;
    readers.maybeGoLive(20_000);
    expect(readers.live?.readSeq).toBe(20_000);
    expect(readers.backlog.upTo).toBe(20_000);
  });

  it('does not go live for a straggler when the reader has read up to the head (nothing for a backlog to drain)', () => {
    const readers = new TelemetryReaders(0, LIVE_AFTER, pino({ level: 'silent' }));
    // A record of long ago still in flight, everything after it read (and mostly delivered).
    readers.backlog.window.push(pending(100, false));
    for (let seq = 41_000; seq <= 42_700; seq++) readers.backlog.window.push(pending(seq, true));
    readers.backlog.readSeq = 42_700;
    readers.maybeGoLive(42_773);
    expect(readers.live).toBeNull();
  });
});
