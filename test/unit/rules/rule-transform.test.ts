import { describe, expect, it } from 'vitest';
import { rulesSchema } from '../../../src/analytics/rules/config.js';
import { RuleTransform } from '../../../src/analytics/rules/rule-transform.js';
import { validateConfig } from '../../../src/config/load.js';
import { TransformChain } from '../../../src/pipeline/transform-chain.js';
import { reading, stageContext } from './stage-helpers.js';

const rule = (config: object) => new RuleTransform(rulesSchema.parse([config])[0]!);
const MIN = 60_000;

describe('a rule', () => {
  it('takes only the readings its match selects; the others pass it untouched', () => {
    const ctx = stageContext();
    const r = rule({
      name: 'hot',
      match: { devices: ['room-*'], topics: ['devices/+/telemetry'], when: 'has(values.t)' },
      stages: [{ type: 'filter', expr: 't > 30.0' }],
    });
    r.attach(ctx);
    expect(r.process(reading('room-1', { t: 20 }), ctx)).toEqual({ fate: 'filter', reason: 'filter#0:expr_false' });
    expect(r.process(reading('room-1', { t: 35 }), ctx).fate).toBe('pass');
    // Not matched: another device, another topic, no `t`, or an aggregate (rules take device readings by default).
    expect(r.process(reading('boiler', { t: 20 }), ctx).fate).toBe('pass');
    expect(r.process(reading('room-1', { t: 20 }, 0, { topic: 'other/room-1' }), ctx).fate).toBe('pass');
    expect(r.process(reading('room-1', { h: 20 }), ctx).fate).toBe('pass');
    expect(r.process(reading('room-1', { t: 20 }, 0, { kind: 'aggregate' }), ctx).fate).toBe('pass');
    expect(ctx.metrics.get('rule_readings_total', { rule: 'hot', outcome: 'matched' })).toBe(2);
    expect(ctx.metrics.get('rule_readings_total', { rule: 'hot', outcome: 'filtered' })).toBe(1);
    expect(ctx.metrics.get('rule_readings_total', { rule: 'hot', outcome: 'passed' })).toBe(1);
  });

  it('sends what a window produces through the stages after it, with the rule name and output topic', () => {
    const ctx = stageContext();
    const r = rule({
      name: 'power-avg',
      stages: [
        { type: 'compute', fields: { power: 'voltage * current' } },
        { type: 'window', kind: 'tumbling', sizeMs: MIN, fields: ['power'], aggregates: ['mean', 'count'] },
        { type: 'compute', fields: { kw: 'power_mean / 1000' } },
      ],
      raw: 'drop',
      output: { topic: 'rules/{rule}/{deviceId}' },
    });
    r.attach(ctx);
    expect(r.process(reading('m1', { voltage: 200, current: 10 }, 0), ctx).fate).toBe('consume');
    expect(r.process(reading('m1', { voltage: 200, current: 20 }, 30_000), ctx).fate).toBe('consume');
    const closing = r.process(reading('m1', { voltage: 200, current: 5 }, MIN + 10_000), ctx);
    const out = [...(closing.produced ?? []), ...r.onTime!(MIN + 20_000, ctx)];
    expect(out).toHaveLength(1);
    expect(out[0]!.kind).toBe('aggregate');
    expect(out[0]!.reading.topic).toBe('rules/power-avg/m1');
    expect(out[0]!.reading.values).toMatchObject({ power_mean: 3_000, power_count: 2, kw: 3 });
    expect(out[0]!.reading.result).toMatchObject({ rule: 'power-avg', count: 2 });
  });

  it('with raw: keep, a reading a window consumed still goes on up, as it entered the window', () => {
    const ctx = stageContext();
    const r = rule({ name: 'avg', stages: [{ type: 'compute', fields: { f: 't * 2' } }, { type: 'window', kind: 'tumbling', sizeMs: MIN, fields: ['t'], aggregates: ['mean'] }] });
    const result = r.process(reading('a', { t: 1 }, 0), ctx);
    expect(result).toMatchObject({ fate: 'pass', reading: { values: { t: 1, f: 2 } } });
  });

  it('checkpoints each stage under its own prefix and restores it', () => {
    const ctx = stageContext();
    const config = { name: 'rbe', stages: [{ type: 'filter', expr: 't > 0.0' }, { type: 'deadband', fields: ['t'], absolute: 1 }] };
    const first = rule(config);
    first.process(reading('a', { t: 5 }, 0), ctx);
    const ops = first.checkpoint!();
    expect(ops.map((o) => o.key)).toEqual([`deadband#1!${JSON.stringify(['a', 't'])}`]);
    const second = rule(config);
    second.restore!(new Map(ops.map((o) => [o.key, o.type === 'put' ? o.value : ''])));
    expect(second.process(reading('a', { t: 5.5 }, 1), ctx)).toEqual({ fate: 'filter', reason: 'deadband#1:within_deadband' });
  });

  it('is stateless (no resend guard, no checkpoints) when none of its stages keeps state', () => {
    const r = rule({ name: 'c', stages: [{ type: 'compute', fields: { x: '1' } }] });
    expect(r.checkpoint).toBeUndefined();
    expect(TransformChain.guarded([r], true)).toEqual([r]);
  });

  it('names its windows and detectors after the rule, so a detect stage needs no rule name of its own', () => {
    const r = rule({ name: 'boiler', stages: [{ type: 'detect', field: 't', detector: { kind: 'threshold', raise: 90, direction: 'above' } }] });
    expect((r.stages[0] as unknown as { rule: string }).rule).toBe('boiler');
  });
});

describe('rules in the chain', () => {
  it('dead-letters an unknown device and counts it so the ledger delta balances', async () => {
    const { makeTempDir } = await import('../../helpers/temp-dir.js');
    const { writeFile } = await import('node:fs/promises');
    const temp = await makeTempDir();
    try {
      await writeFile(`${temp.dir}/devices.csv`, 'deviceId,room\nknown,1\n');
      const ctx = stageContext();
      const r = rule({ name: 'rooms', stages: [{ type: 'enrich', registry: `${temp.dir}/devices.csv`, unknown: 'dead_letter' }] });
      const chain = new TransformChain([r], ctx);
      const outcome = chain.run([reading('known', { t: 1 }), reading('ghost', { t: 2 })]);
      expect(outcome.readings.map((x) => x.deviceId)).toEqual(['known']);
      expect(outcome.deadLetters).toMatchObject([{ reason: 'rule:rooms:enrich#0:unknown_device', reading: { deviceId: 'ghost' } }]);
      expect(TransformChain.ledgerDelta(outcome)).toEqual({ received: 1, filtered: 0, consumed: 0, produced: 0, deadLettered: { 'rule:rooms:enrich#0:unknown_device': 1 } });
    } finally {
      await temp.cleanup();
    }
  });
});

describe('rule config errors', () => {
  const problems = (rules: unknown[], extra: object = {}) => {
    try {
      validateConfig({ rules, ...extra }, 'test.yaml');
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('config was accepted');
  };

  it('name the rule, the stage and the expression with its column', () => {
    expect(problems([{ name: 'comfort', stages: [{ type: 'compute', fields: { f: 'temperature * ' } }] }])).toMatch(/rules\[0\]\.stages\[0\]\.fields\.f: rule "comfort": expression "temperature \* " at column 15: /);
    expect(problems([{ name: 'comfort', match: { when: 'device + "x"' }, stages: [{ type: 'filter', expr: 'true' }] }])).toMatch(/rules\[0\]\.match\.when: rule "comfort": expression "device \+ \\"x\\"": must be true or false, but its type is string/);
  });

  it('refuse duplicate rule names, unknown stage types and duplicate alarm names across transforms and rules', () => {
    expect(problems([{ name: 'a', stages: [{ type: 'filter', expr: 'true' }] }, { name: 'a', stages: [{ type: 'filter', expr: 'true' }] }])).toMatch(/rule name "a" is already used by rules\[0\]/);
    expect(problems([{ name: 'a', stages: [{ type: 'fliter', expr: 'true' }] }])).toMatch(/unknown transform type "fliter"/);
    const detect = { type: 'detect', rule: 'hot', field: 't', detector: { kind: 'threshold', raise: 1, direction: 'above' } };
    expect(problems([{ name: 'x', stages: [{ ...detect }] }], { transforms: [detect] })).toMatch(/alarm rule "hot" is already used by transforms\[0\]/);
  });
});
