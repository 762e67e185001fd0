/**
 * One measurement of the window transform's cost (not part of the benchmark suite): microseconds per reading
 * through a 1-minute tumbling mean/min/max window over 1,000 devices, and heap bytes per 1,000 open windows.
 * Run: node --expose-gc --import tsx bench/window-cost.ts
 */
import { pino } from 'pino';
import { ManualClock } from '../src/core/clock.js';
import { Metrics } from '../src/core/metrics.js';
import { windowSchema } from '../src/analytics/windows/schema.js';
import { WindowTransform } from '../src/analytics/windows/window-transform.js';
import type { PendingReading } from '../src/buffer/types.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const ctx = { clock: new ManualClock(0), logger: pino({ level: 'silent' }), metrics: new Metrics() };
const config = windowSchema.parse({ kind: 'tumbling', sizeMs: 60_000, fields: ['temperature'], aggregates: ['mean', 'min', 'max'] });
const DEVICES = 1_000;

function readings(n: number, startTs: number, periodMs: number): PendingReading[] {
  return Array.from({ length: n }, (_, i) => {
    const ts = startTs + Math.floor(i / DEVICES) * periodMs;
    return { deviceId: `dev-${i % DEVICES}`, topic: 'devices/x/telemetry', ts, seq: i, receivedAt: ts, values: { temperature: 20 + (i % 17) * 0.1, humidity: 40 } };
  });
}

// Throughput: each device reports every second for 10 minutes (600,000 readings, 10 windows closed per device).
const t = new WindowTransform('window#0', config);
const input = readings(600_000, 0, 1_000);
for (const r of input.slice(0, 50_000)) t.process(r, ctx); // warm-up on a separate range of time
const timed = new WindowTransform('window#0', config);
const began = process.hrtime.bigint();
let produced = 0;
for (const r of input) produced += timed.process(r, ctx).produced?.length ?? 0;
const ns = Number(process.hrtime.bigint() - began);
let checkpointOps = timed.checkpoint().length;
console.log(`throughput: ${(ns / 1000 / input.length).toFixed(3)} µs per reading over ${input.length} readings, ${DEVICES} devices; ${produced} aggregates emitted; ${checkpointOps} checkpoint ops at the end`);

// Checkpoint cost per batch: 100 readings, then checkpoint().
const batchT = new WindowTransform('window#0', config);
const b0 = process.hrtime.bigint();
checkpointOps = 0;
for (let i = 0; i < input.length; i += 100) {
  for (const r of input.slice(i, i + 100)) batchT.process(r, ctx);
  checkpointOps += batchT.checkpoint().length;
}
const bns = Number(process.hrtime.bigint() - b0);
console.log(`with a checkpoint every 100 readings: ${(bns / 1000 / input.length).toFixed(3)} µs per reading (${checkpointOps} state puts)`);

// Heap: 100,000 open windows (100,000 keys, one reading each), measured after GC against an empty transform.
function heapWith(keys: number): number {
  gc!();
  gc!();
  const before = process.memoryUsage().heapUsed;
  const w = new WindowTransform('window#0', windowSchema.parse({ ...config, maxOpenWindows: 1_000_000 }));
  for (let i = 0; i < keys; i++) w.process({ deviceId: `dev-${i}`, topic: 't', ts: 1_000, seq: 1, receivedAt: 1_000, values: { temperature: 21.5 } }, ctx);
  w.checkpoint(); // the dirty set is part of steady state only until the next batch
  gc!();
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (w.openWindows !== keys) throw new Error('windows not open');
  return after - before;
}
const bytes = heapWith(100_000);
console.log(`heap: ${Math.round(bytes / 100)} bytes per 1,000 open windows (one field, mean/min/max, one key each: ${Math.round(bytes / 100_000)} bytes per window)`);
