import { describe, it, expect } from 'vitest';
import { formatSummaryText, isSuccessful, summaryJsonLine } from '../../../device-sim/report.js';
import type { SimulationSummary } from '../../../device-sim/simulator.js';

const base: SimulationSummary = {
  url: 'mqtt://127.0.0.1:1',
  qos: 1,
  seed: 42,
  deviceCount: 2,
  connectionCount: 1,
  sent: 4,
  acked: 4,
  failed: 0,
  publishErrors: 0,
  unackedAtExit: 0,
  connectionErrors: 0,
  reconnects: 0,
  deferred: 0,
  durationMs: 1000,
  ratePerSec: 4,
  targetRatePerSec: 4,
  ackLatencyMs: { p50: 1, p95: 2, p99: 3, max: 4 },
  stopReason: 'count',
  startedAt: '2025-01-01T00:00:00.000Z',
  devices: [
    { deviceId: 'th-0001', sent: 2, acked: 2, firstSeq: 1, lastSeq: 2 },
    { deviceId: 'co2-0002', sent: 2, acked: 2, firstSeq: 1, lastSeq: 2 },
  ],
};

describe('report', () => {
  it('succeeds only when nothing failed and the deadline was not hit', () => {
    expect(isSuccessful(base)).toBe(true);
    expect(isSuccessful({ ...base, acked: 3, failed: 1, unackedAtExit: 1 })).toBe(false);
    expect(isSuccessful({ ...base, stopReason: 'deadline' })).toBe(false);
  });

  it('prints the JSON summary as one line without the per-device ledger', () => {
    const line = summaryJsonLine(base);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.devices).toBeUndefined();
    expect(parsed).toMatchObject({ sent: 4, acked: 4, ok: true, ackLatencyMs: { p99: 3 } });
  });

  it('prints counts and latency percentiles in the text summary', () => {
    const text = formatSummaryText(base);
    expect(text).toMatch(/acknowledged\s+4/);
    expect(text).toMatch(/p50 1\.00 ms, p95 2\.00 ms, p99 3\.00 ms, max 4\.00 ms/);
    expect(text).toMatch(/result\s+OK/);
    expect(formatSummaryText({ ...base, qos: 0, ackLatencyMs: null })).not.toContain('PUBACK');
  });
});
