import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { Metrics } from '../../src/core/metrics.js';
import type { Transform, TransformContext } from '../../src/pipeline/transform.js';
import type { PendingReading } from '../../src/buffer/types.js';

export function transformContext(clock = new ManualClock(1_700_000_000_000)): TransformContext {
  return { clock, logger: pino({ level: 'silent' }), metrics: new Metrics() };
}

/** Readings of several devices and shapes, as decode hands them over. */
export function sampleReadings(n = 20): PendingReading[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId: `dev-${i % 4}`,
    topic: `devices/dev-${i % 4}/telemetry`,
    receivedAt: 1_700_000_000_000 + i,
    ...(i % 3 === 0 ? { ts: 1_699_999_999_000 + i, seq: i } : {}),
    values: { temp: 20 + i, hum: 40 + (i % 7), debug: `trace-${i}`, ok: i % 2 === 0 },
  }));
}

/**
 * What every transform owes the pipeline, whatever it does: one fate per reading, inputs left untouched,
 * passed readings still readings, produced records well formed, and the stateful hooks consistent.
 */
export function describeTransform(name: string, make: () => Transform, readings: () => PendingReading[] = () => sampleReadings()): void {
  describe(`Transform contract: ${name}`, () => {
    it('gives each reading exactly one fate', () => {
      const t = make();
      for (const r of readings()) {
        const result = t.process(r, transformContext());
        expect(['pass', 'filter', 'consume']).toContain(result.fate);
        if (result.fate === 'filter') expect(result.reason).toMatch(/^[a-z0-9_]+$/);
      }
    });

    it('does not modify the reading it was given', () => {
      const t = make();
      for (const r of readings()) {
        const before = structuredClone(r);
        t.process(r, transformContext());
        expect(r).toEqual(before);
      }
    });

    it('passes on readings the buffer accepts: a device id and at least one value', () => {
      const t = make();
      for (const r of readings()) {
        const result = t.process(r, transformContext());
        if (result.fate !== 'pass') continue;
        expect(result.reading.deviceId.length).toBeGreaterThan(0);
        expect(Object.keys(result.reading.values).length).toBeGreaterThan(0);
        expect(result.reading.receivedAt).toBe(r.receivedAt);
      }
    });

    it('produces records with a kind, a lane and values', () => {
      const t = make();
      const ctx = transformContext();
      const produced = readings().flatMap((r) => t.process(r, ctx).produced ?? []);
      produced.push(...(t.onTime?.(ctx.clock.now() + 3_600_000, ctx) ?? []), ...(t.flush?.(ctx) ?? []));
      for (const p of produced) {
        expect(['aggregate', 'alarm', 'derived']).toContain(p.kind);
        expect(['alarm', 'telemetry']).toContain(p.lane);
        expect(Object.keys(p.reading.values).length).toBeGreaterThan(0);
      }
    });

    it('is deterministic: the same readings in the same order get the same results', () => {
      const run = () => {
        const t = make();
        const ctx = transformContext();
        return readings().map((r) => t.process(r, ctx));
      };
      expect(run()).toEqual(run());
    });

    it('restores from its own checkpoint to the state it had (stateful transforms)', () => {
      const t = make();
      if (!t.checkpoint || !t.restore) return expect(t.checkpoint === undefined && t.restore === undefined, 'checkpoint and restore come together').toBe(true);
      const ctx = transformContext();
      const all = readings();
      const half = Math.floor(all.length / 2);
      for (const r of all.slice(0, half)) t.process(r, ctx);
      const state = new Map<string, string>();
      for (const op of t.checkpoint()) op.type === 'put' ? state.set(op.key, op.value) : state.delete(op.key);
      const restored = make();
      expect(restored.restore).toBeTypeOf('function');
      restored.restore?.(state);
      for (const r of all.slice(half)) expect(restored.process(r, ctx)).toEqual(t.process(r, ctx));
    });
  });
}
