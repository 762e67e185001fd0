import { describe, it, expect } from 'vitest';
import { optionsFromCli } from '../../../device-sim/cli/run-flags.js';
import { OptionsError, type SimulationOptions } from '../../../device-sim/options.js';
import { resolveOptions } from '../../../device-sim/plan.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof OptionsError) return err.problems;
    throw err;
  }
  throw new Error('expected an OptionsError');
}

describe('resolveOptions', () => {
  it('applies defaults: one connection per device, per-device rate, QoS 1', () => {
    const o = resolveOptions({ devices: 50, rate: 10, durationSec: 60 });
    expect(o).toMatchObject({
      url: 'mqtt://127.0.0.1:1883',
      devices: 50,
      connections: 50,
      ratePerDevice: 10,
      totalRate: 500,
      durationMs: 60_000,
      count: Infinity,
      deadlineMs: 60_000,
      qos: 1,
      maxInflight: 100,
      connectTimeoutMs: 10_000,
      topicTemplate: 'devices/{deviceId}/telemetry',
    });
    expect(Number.isInteger(o.seed)).toBe(true);
  });

  it('caps default connections at 200 and derives per-device rate from --total-rate', () => {
    const o = resolveOptions({ devices: 1000, totalRate: 30_000, count: 100 });
    expect(o.connections).toBe(200);
    expect(o.ratePerDevice).toBe(30);
    expect(o.totalRate).toBe(30_000);
  });

  it('gives count-only runs a safety deadline of 2x the nominal time plus 30 s', () => {
    const o = resolveOptions({ devices: 10, totalRate: 1000, count: 10_000 });
    expect(o.durationMs).toBe(Infinity);
    expect(o.deadlineMs).toBe(20_000 + 30_000);
  });

  it('accepts fractional per-device rates', () => {
    expect(resolveOptions({ devices: 60, rate: 1 / 60, durationSec: 60 }).totalRate).toBeCloseTo(1);
  });

  const bad: Array<[string, SimulationOptions, RegExp]> = [
    ['unbounded run', { devices: 1 }, /must be bounded.*--duration.*--count/],
    ['zero devices', { devices: 0, count: 1 }, /--devices must be an integer from 1/],
    ['fractional devices', { devices: 2.5, count: 1 }, /--devices/],
    ['negative rate', { rate: -1, count: 1 }, /--rate must be a positive number.*e\.g\. --rate 10/],
    ['both rates', { rate: 1, totalRate: 10, count: 1 }, /alternatives; pass only one/],
    ['zero total rate', { totalRate: 0, count: 1 }, /--total-rate must be a positive/],
    ['negative duration', { durationSec: -5 }, /--duration must be a positive number of seconds/],
    ['fractional count', { count: 1.5 }, /--count must be an integer/],
    ['qos 3', { qos: 3 as 0, count: 1 }, /--qos must be 0, 1 or 2/],
    ['more connections than devices', { devices: 5, connections: 6, count: 1 }, /--connections must be an integer from 1 to the number of devices \(5\)/],
    ['template without placeholder', { topicTemplate: 'telemetry', count: 1 }, /must contain \{deviceId\}/],
    ['template with wildcard', { topicTemplate: 'devices/{deviceId}/#', count: 1 }, /wildcards/],
    ['prefix with slash', { devicePrefix: 'a/b', count: 1 }, /--device-prefix must not contain/],
    ['bad url', { url: 'not a url', count: 1 }, /--url is not a valid URL/],
    ['http url', { url: 'http://127.0.0.1:1883', count: 1 }, /--url must use mqtt:\/\//],
    ['max inflight 0', { maxInflight: 0, count: 1 }, /--max-inflight must be an integer from 1 to 65535/],
    ['huge payload', { payloadBytes: 1e9, count: 1 }, /--payload-bytes/],
    ['negative seed', { seed: -1, count: 1 }, /--seed/],
    ['zero connect timeout', { connectTimeoutMs: 0, count: 1 }, /--connect-timeout must be a positive number of seconds/],
  ];
  for (const [name, input, pattern] of bad) {
    it(`rejects ${name} with a message that says how to fix it`, () => {
      const problems = problemsOf(() => resolveOptions(input));
      expect(problems.some((p) => pattern.test(p)), problems.join('\n')).toBe(true);
    });
  }

  it('reports every problem at once', () => {
    const problems = problemsOf(() => resolveOptions({ devices: 0, qos: 7 as 0, topicTemplate: 'x' }));
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });
});

describe('optionsFromCli', () => {
  it('converts strings and seconds to the API units', () => {
    expect(
      optionsFromCli({ devices: '50', rate: '0.0167', duration: '60', qos: '0', connectTimeout: '2.5', seed: '42' }),
    ).toEqual({ devices: 50, rate: 0.0167, durationSec: 60, qos: 0, connectTimeoutMs: 2500, seed: 42 });
  });

  it('rejects non-numbers strictly and still reports the other problems', () => {
    const problems = problemsOf(() => optionsFromCli({ devices: '10abc', rate: '', qos: '5', count: '3' }));
    expect(problems).toContain('--devices expects a number (got "10abc"); e.g. --devices 50');
    expect(problems.some((p) => p.startsWith('--rate expects a number'))).toBe(true);
    expect(problems.some((p) => p.startsWith('--qos must be 0, 1 or 2'))).toBe(true);
    // The unparseable flags are not reported a second time.
    expect(problems.filter((p) => p.startsWith('--devices'))).toHaveLength(1);
  });

  it('does not claim the run is unbounded when --duration was given but unparseable', () => {
    const problems = problemsOf(() => optionsFromCli({ duration: 'soon' }));
    expect(problems).toEqual(['--duration expects a number (got "soon"); e.g. --duration 60']);
  });
});
