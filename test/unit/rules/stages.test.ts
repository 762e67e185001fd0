import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ComputeStage } from '../../../src/analytics/rules/compute-stage.js';
import { computeStageSchema } from '../../../src/analytics/rules/compute-schema.js';
import { DeadbandStage } from '../../../src/analytics/rules/deadband-stage.js';
import { deadbandStageSchema } from '../../../src/analytics/rules/deadband-schema.js';
import { EnrichStage } from '../../../src/analytics/rules/enrich-stage.js';
import { enrichStageSchema } from '../../../src/analytics/rules/enrich-schema.js';
import { FilterStage } from '../../../src/analytics/rules/filter-stage.js';
import { filterStageSchema } from '../../../src/analytics/rules/filter-schema.js';
import type { TransformResult } from '../../../src/pipeline/transform.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { reading, stageContext } from './stage-helpers.js';

const passed = (r: TransformResult) => {
  if (r.fate !== 'pass') throw new Error(`expected pass, got ${JSON.stringify(r)}`);
  return r.reading;
};

describe('filter stage', () => {
  it('passes what the expression holds for, filters the rest, and counts readings it cannot evaluate', () => {
    const ctx = stageContext();
    const stage = new FilterStage('filter#0', filterStageSchema.parse({ expr: 'temperature > -40.0 && temperature < 125.0' }));
    stage.attach(ctx);
    expect(stage.process(reading('a', { temperature: 21 }), ctx).fate).toBe('pass');
    expect(stage.process(reading('a', { temperature: 300 }), ctx)).toEqual({ fate: 'filter', reason: 'expr_false' });
    expect(stage.process(reading('a', { humidity: 40 }), ctx)).toEqual({ fate: 'filter', reason: 'expression_error' });
    expect(ctx.metrics.get('rule_expression_errors_total', { stage: 'filter#0' })).toBe(1);
  });

  it('treats a value that is not a bool as an error, not as false', () => {
    const ctx = stageContext();
    const stage = new FilterStage('filter#0', filterStageSchema.parse({ expr: 'door' }));
    expect(stage.process(reading('a', { door: 'open' }), ctx)).toEqual({ fate: 'filter', reason: 'expression_error' });
    expect(stage.process(reading('a', { door: true }), ctx).fate).toBe('pass');
  });

  it('refuses a broken expression when the config is validated, with the column', () => {
    const parsed = filterStageSchema.safeParse({ expr: 'temperature >> 3' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toMatch(/^expression "temperature >> 3" at column \d+: /);
  });
});

describe('compute stage', () => {
  it('adds fields in order, a later one using an earlier one', () => {
    const ctx = stageContext();
    const stage = new ComputeStage('compute#0', computeStageSchema.parse({ fields: { power: 'voltage * current', kw: 'power / 1000', temperature_f: 'temperature * 9 / 5 + 32' } }));
    const out = passed(stage.process(reading('m1', { voltage: 230, current: 10, temperature: 20 }), ctx));
    expect(out.values).toEqual({ voltage: 230, current: 10, temperature: 20, power: 2300, kw: 2.3, temperature_f: 68 });
  });

  it('leaves out a field it cannot compute, counts it, and keeps the reading', () => {
    const ctx = stageContext();
    const stage = new ComputeStage('compute#0', computeStageSchema.parse({ fields: { dew: 'dewpoint(temperature, humidity)', ratio: 'a / b' } }));
    stage.attach(ctx);
    const out = passed(stage.process(reading('r1', { temperature: 20, a: 1, b: 0 }), ctx));
    // humidity is missing; a / b is Infinity, which a reading cannot carry.
    expect(out.values).toEqual({ temperature: 20, a: 1, b: 0 });
    expect(ctx.metrics.get('rule_expression_errors_total', { stage: 'compute#0' })).toBe(2);
  });

  it('refuses reserved and malformed field names', () => {
    expect(computeStageSchema.safeParse({ fields: { device: '1' } }).success).toBe(false);
    expect(computeStageSchema.safeParse({ fields: { 'a b': '1' } }).success).toBe(false);
    expect(computeStageSchema.safeParse({ fields: {} }).success).toBe(false);
  });
});

describe('deadband stage', () => {
  const make = (config: object) => new DeadbandStage('deadband#0', deadbandStageSchema.parse(config));

  it('reports a move beyond the absolute band from the last reported value, so a slow drift is reported once it adds up', () => {
    const ctx = stageContext();
    const stage = make({ fields: ['t'], absolute: 0.5 });
    const fates = [20, 20.2, 20.4, 20.6, 20.7, 21.0, 21.2].map((t, i) => stage.process(reading('a', { t }, 1_000 * i), ctx).fate);
    // 20 reported; 20.2/20.4 within 0.5 of 20; 20.6 beyond; 20.7/21.0 within 0.5 of 20.6 (21.0 - 20.6 = 0.4); 21.2 beyond.
    expect(fates).toEqual(['pass', 'filter', 'filter', 'pass', 'filter', 'filter', 'pass']);
  });

  it('uses a percentage of the last reported value', () => {
    const ctx = stageContext();
    const stage = make({ fields: ['p'], percent: 10 });
    expect([100, 109, 111, 121, 123].map((p, i) => stage.process(reading('a', { p }, i * 1_000), ctx).fate)).toEqual(['pass', 'filter', 'pass', 'filter', 'pass']);
  });

  it('reports a flat sensor at the heartbeat (event time)', () => {
    const ctx = stageContext();
    const stage = make({ fields: ['t'], absolute: 1, maxSilenceMs: 60_000 });
    const fates = [0, 30_000, 59_999, 60_000, 90_000, 120_000].map((ts) => stage.process(reading('a', { t: 5 }, ts), ctx).fate);
    expect(fates).toEqual(['pass', 'filter', 'filter', 'pass', 'filter', 'pass']);
  });

  it('keeps devices and fields apart, reports non-numeric values on change, and passes readings without its fields', () => {
    const ctx = stageContext();
    const stage = make({ fields: ['t', 'state'], absolute: 1 });
    expect(stage.process(reading('a', { t: 1, state: 'idle' }, 0), ctx).fate).toBe('pass');
    expect(stage.process(reading('b', { t: 1, state: 'idle' }, 0), ctx).fate).toBe('pass');
    expect(stage.process(reading('a', { t: 1.5, state: 'idle' }, 1), ctx).fate).toBe('filter');
    expect(stage.process(reading('a', { t: 1.5, state: 'run' }, 2), ctx).fate).toBe('pass');
    expect(stage.process(reading('a', { humidity: 3 }, 3), ctx).fate).toBe('pass');
  });

  it('checkpoints the last reported values and, restored, goes on as if it had not stopped', () => {
    const ctx = stageContext();
    const first = make({ fields: ['t'], absolute: 1 });
    first.process(reading('a', { t: 10 }, 0), ctx);
    first.process(reading('b', { t: 20 }, 0), ctx);
    const ops = first.checkpoint();
    expect(ops).toHaveLength(2);
    // Nothing changed since: nothing to write.
    first.process(reading('a', { t: 10.5 }, 1), ctx);
    expect(first.checkpoint()).toEqual([]);
    const state = new Map(ops.map((op) => [op.key, op.type === 'put' ? op.value : '']));
    const second = make({ fields: ['t'], absolute: 1 });
    second.restore(state);
    expect(second.process(reading('a', { t: 10.5 }, 2), ctx).fate).toBe('filter');
    expect(second.process(reading('b', { t: 21.5 }, 2), ctx).fate).toBe('pass');
  });

  it('forgets the series reported longest ago when full, counted, and deletes its state', () => {
    const ctx = stageContext();
    const stage = make({ fields: ['t'], absolute: 1, maxSeries: 2 });
    stage.attach(ctx);
    stage.process(reading('a', { t: 1 }, 0), ctx);
    stage.process(reading('b', { t: 1 }, 1), ctx);
    stage.checkpoint();
    stage.process(reading('c', { t: 1 }, 2), ctx);
    expect(stage.series).toBe(2);
    expect(ctx.metrics.get('deadband_series_evicted_total', { stage: 'deadband#0' })).toBe(1);
    expect(stage.checkpoint()).toEqual(expect.arrayContaining([{ type: 'del', key: JSON.stringify(['a', 't']) }]));
    // a was forgotten: its next reading is reported.
    expect(stage.process(reading('a', { t: 1 }, 3), ctx).fate).toBe('pass');
  });

  it('needs exactly one of absolute or percent', () => {
    expect(deadbandStageSchema.safeParse({ fields: ['t'] }).success).toBe(false);
    expect(deadbandStageSchema.safeParse({ fields: ['t'], absolute: 1, percent: 1 }).success).toBe(false);
  });
});

describe('enrich stage', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  async function registryFile(name: string, text: string): Promise<string> {
    const temp = await makeTempDir();
    cleanups.push(temp.cleanup);
    const file = path.join(temp.dir, name);
    await writeFile(file, text);
    return file;
  }

  it('adds the CSV registry fields as tags (quoted fields included)', async () => {
    const file = await registryFile('devices.csv', 'deviceId,site,floor,room,type\nroom-1,hq,3,"3.14, north",th\nroom-2,hq,3,3.15,co2\n');
    const ctx = stageContext();
    const stage = new EnrichStage('enrich#0', enrichStageSchema.parse({ registry: file }));
    expect(stage.devices).toBe(2);
    const out = passed(stage.process(reading('room-1', { t: 1 }, 0, { tags: { source: 'x' } }), ctx));
    expect(out.tags).toEqual({ source: 'x', site: 'hq', floor: '3', room: '3.14, north', type: 'th' });
    expect(out.values).toEqual({ t: 1 });
  });

  it('reads YAML maps and lists, and adds only the fields asked for', async () => {
    const map = await registryFile('devices.yaml', 'room-1: { site: hq, floor: 3, room: "3.14" }\n');
    const list = await registryFile('devices.yml', '- { id: m1, line: A, machine: press }\n');
    const ctx = stageContext();
    expect(passed(new EnrichStage('e', enrichStageSchema.parse({ registry: map, fields: ['floor'] })).process(reading('room-1', { t: 1 }), ctx)).tags).toEqual({ floor: 3 });
    expect(passed(new EnrichStage('e', enrichStageSchema.parse({ registry: list, idField: 'id' })).process(reading('m1', { t: 1 }), ctx)).tags).toEqual({ line: 'A', machine: 'press' });
  });

  it('handles an unknown device as configured, and counts it', async () => {
    const file = await registryFile('devices.csv', 'deviceId,room\nroom-1,3.14\n');
    const unknownAs = (unknown: string) => {
      const ctx = stageContext();
      const stage = new EnrichStage('enrich#0', enrichStageSchema.parse({ registry: file, unknown }));
      stage.attach(ctx);
      const result = stage.process(reading('ghost', { t: 1 }), ctx);
      expect(ctx.metrics.get('enrich_unknown_devices_total', { stage: 'enrich#0' })).toBe(1);
      return result;
    };
    expect(passed(unknownAs('pass')).tags).toBeUndefined();
    expect(passed(unknownAs('tag')).tags).toEqual({ registry: 'unknown' });
    expect(unknownAs('filter')).toEqual({ fate: 'filter', reason: 'unknown_device' });
    expect(unknownAs('dead_letter')).toMatchObject({ fate: 'dead_letter', reason: 'unknown_device', message: expect.stringContaining('"ghost" is not in the registry') });
  });

  it('reloads a changed registry on its tick, and keeps the previous one when the new file is broken', async () => {
    const file = await registryFile('devices.csv', 'deviceId,room\nroom-1,3.14\n');
    const ctx = stageContext(10_000);
    const stage = new EnrichStage('enrich#0', enrichStageSchema.parse({ registry: file, reloadCheckMs: 1_000 }));
    stage.attach(ctx);
    const v1 = stage.version;
    expect(stage.checkpoint()).toEqual([{ type: 'put', key: 'version', value: v1 }]);
    stage.onTime(10_000, ctx);
    await writeFile(file, 'deviceId,room\nroom-1,3.14\nroom-2,3.15\n');
    // Not yet due: the file is not looked at.
    stage.onTime(10_500, ctx);
    expect(stage.devices).toBe(1);
    stage.onTime(11_000, ctx);
    expect(stage.devices).toBe(2);
    expect(ctx.metrics.get('enrich_registry_reloads_total', { stage: 'enrich#0' })).toBe(1);
    expect(stage.checkpoint()).toEqual([{ type: 'put', key: 'version', value: stage.version }]);
    expect(stage.version).not.toBe(v1);

    await writeFile(file, 'deviceId,room\nroom-1,"unclosed\n');
    stage.onTime(12_000, ctx);
    expect(stage.devices).toBe(2);
    expect(ctx.metrics.get('enrich_registry_reload_errors_total', { stage: 'enrich#0' })).toBe(1);
    expect(passed(stage.process(reading('room-2', { t: 1 }), ctx)).tags).toEqual({ room: '3.15' });
  });

  it('refuses to start on a registry that does not load, naming the file and line', async () => {
    const file = await registryFile('devices.csv', 'deviceId,room\nroom-1,3.14,extra\n');
    expect(() => new EnrichStage('e', enrichStageSchema.parse({ registry: file }))).toThrow(/devices\.csv line 2: 3 columns where the header has 2/);
    expect(() => new EnrichStage('e', enrichStageSchema.parse({ registry: file + '.missing' }))).toThrow(/cannot be read \(ENOENT\)/);
    const noId = await registryFile('other.csv', 'id,room\nx,1\n');
    expect(() => new EnrichStage('e', enrichStageSchema.parse({ registry: noId }))).toThrow(/no column "deviceId" \(columns: id, room\)/);
  });
});
