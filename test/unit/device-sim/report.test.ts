import { describe, it, expect } from 'vitest';
import { formatSummaryText, isSuccessful, reportJson, summaryJsonLine } from '../../../device-sim/report.js';
import { formatProgressLine, progressReporter } from '../../../device-sim/cli/progress.js';
import type { ProgressSnapshot } from '../../../device-sim/options.js';
import type { SimulationSummary } from '../../../device-sim/simulator.js';

const base: SimulationSummary = {
  url: 'mqtt://127.0.0.1:1',
  transport: 'mqtt',
  scenario: null,
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
  faults: { duplicatesSent: 0, malformedSent: 0, oversizeSent: 0, noiseSent: 0, extraErrors: 0, reboots: 0, storms: 0, droppedConnections: 0 },
  anomalies: { episodes: 0, byKind: {}, truthFile: null },
  devices: [
    { deviceId: 'th-0001', sent: 2, acked: 2, firstSeq: 1, lastSeq: 2, boots: [{ boot: '0a0b0c0d', sent: 2, acked: [[1, 2]] }] },
    { deviceId: 'co2-0002', sent: 3, acked: 2, firstSeq: 1, lastSeq: 2, boots: [{ boot: '01020304', sent: 1, acked: [[1, 1]] }, { boot: '05060708', sent: 2, acked: [[2, 2]], duplicated: [[2, 2]] }] },
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

  it('lists injected faults in the text summary', () => {
    const text = formatSummaryText({ ...base, faults: { ...base.faults, duplicatesSent: 3, reboots: 2, storms: 1, droppedConnections: 5 } });
    expect(text).toMatch(/faults injected\s+duplicates 3, reboots 2, disconnect storms 1 \(5 connections dropped\)/);
    expect(formatSummaryText(base)).not.toContain('faults injected');
  });

  it('writes the report with one device per line and compact seq ranges', () => {
    const text = reportJson(base);
    const parsed = JSON.parse(text) as SimulationSummary & { ok: boolean };
    expect(parsed.ok).toBe(true);
    expect(parsed.devices).toEqual(base.devices);
    const deviceLines = text.split('\n').filter((l) => l.includes('"deviceId"'));
    expect(deviceLines).toHaveLength(2);
    expect(deviceLines[1]).toContain('"acked":[[2,2]],"duplicated":[[2,2]]');
    expect(JSON.parse(reportJson({ ...base, devices: [] })).devices).toEqual([]);
  });
});

describe('progress', () => {
  const snap: ProgressSnapshot = {
    elapsedMs: 75_000,
    sent: 12_000,
    acked: 11_900,
    failed: 0,
    inflight: 100,
    deferred: 0,
    connectionErrors: 1,
    connectedConnections: 9,
    connections: 10,
    recentRatePerSec: 2_000.4,
    plannedReadings: 30_000,
    errors: 1,
    timeLeftMs: 9_000,
  };

  it('shows rate, acknowledged, in flight, errors and time left', () => {
    expect(formatProgressLine(snap)).toBe('[1m15s] 2,000/s, sent 12,000/30,000, acked 11,900, in flight 100, errors 1, connections 9/10, 9s left');
    expect(formatProgressLine({ ...snap, timeLeftMs: null, plannedReadings: Infinity, deferred: 7 })).toBe(
      '[1m15s] 2,000/s, sent 12,000, acked 11,900, in flight 100, errors 1, deferred 7, connections 9/10',
    );
  });

  function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
    const s = { isTTY, columns: 40, text: '', write(chunk: string) { s.text += chunk; return true; } };
    return s as unknown as NodeJS.WriteStream & { text: string };
  }

  it('rewrites one line on a terminal, truncated to its width', () => {
    const out = fakeStream(true);
    const err = fakeStream(false);
    const r = progressReporter(true, out, err);
    r.onProgress!(snap);
    r.onProgress!(snap);
    r.clear();
    expect(r.intervalMs).toBe(1000);
    expect(out.text.split('\r\x1b[2K')).toEqual(['', formatProgressLine(snap).slice(0, 39), formatProgressLine(snap).slice(0, 39), '']);
    expect(err.text).toBe('');
  });

  it('prints plain lines on stderr every 5 s when stdout is not a terminal, and nothing when disabled', () => {
    const out = fakeStream(false);
    const err = fakeStream(false);
    const r = progressReporter(true, out, err);
    r.onProgress!(snap);
    expect(r.intervalMs).toBe(5000);
    expect(err.text).toBe(`${formatProgressLine(snap)}\n`);
    expect(out.text).toBe('');
    expect(progressReporter(false, out, err).onProgress).toBeUndefined();
  });
});
