import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tidegate } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

const CONFIG = `
rules:
  - name: machine-power
    stages:
      - type: compute
        fields:
          power: voltage * current
      - type: window
        kind: tumbling
        sizeMs: 10000
        allowedLatenessMs: 0
        fields: [power]
        aggregates: [count, mean, max]
    raw: drop
  - name: overload
    match:
      kinds: [aggregate]
    stages:
      - type: detect
        field: power_max
        detector: { kind: threshold, direction: above, raise: 3000 }
`;

describe('tidegate rules test and the shipped rule examples', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  async function files(config: string, lines: object[]): Promise<{ config: string; input: string }> {
    const temp = await makeTempDir();
    cleanups.push(temp.cleanup);
    const c = path.join(temp.dir, 'rules.yaml');
    const i = path.join(temp.dir, 'readings.jsonl');
    await writeFile(c, config);
    await writeFile(i, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    return { config: c, input: i };
  }

  it('prints, as JSON lines, what the rules make of the readings on virtual time, and a summary on stderr', async () => {
    // 25 readings of one machine, 1 s apart: windows [0,10) and [10,20) close as time passes, [20,30) on the flush.
    const readings = Array.from({ length: 25 }, (_, s) => ({ deviceId: 'press-1', ts: new Date(T0 + s * 1_000).toISOString(), seq: s, values: { voltage: 230, current: s < 10 ? 10 : 15 } }));
    const { config, input } = await files(CONFIG, readings);
    const run = await tidegate('rules', 'test', '--config', config, '--input', input);
    expect(run.stderr.split('\n').find((l) => l.startsWith('{"summary"'))).toBeDefined();
    expect(run.code).toBe(0);
    const out = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const aggregates = out.filter((o) => o.kind === 'aggregate');
    expect(aggregates.map((a) => [a.record.result.window.start - T0, a.record.values.power_count, a.record.values.power_mean])).toEqual([
      [0, 10, 2_300],
      [10_000, 10, 3_450],
      [20_000, 5, 3_450],
    ]);
    // The second window closed when the reading at 20 s arrived: its virtual time, not the wall clock.
    expect(aggregates[1].at).toBe(new Date(T0 + 20_000).toISOString());
    const alarms = out.filter((o) => o.kind === 'alarm');
    expect(alarms).toHaveLength(1);
    expect(alarms[0].record.result).toMatchObject({ rule: 'overload', transition: 'raised' });
    // raw: drop — no raw reading is printed.
    expect(out.filter((o) => o.kind === 'reading')).toEqual([]);
    const summary = JSON.parse(run.stderr.split('\n').find((l) => l.startsWith('{"summary"'))!).summary;
    expect(summary).toMatchObject({ in: 25, consumed: 25, produced: 4, out: 4 });

    const unflushed = await tidegate('rules', 'test', '--config', config, '--input', input, '--no-flush');
    expect(unflushed.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.kind === 'aggregate')).toHaveLength(2);
  });

  it('names the file and line of a bad input line, and the rule and column of a bad expression', async () => {
    const bad = await files(CONFIG, [{ deviceId: 'a', ts: T0, values: { voltage: 1, current: 1 } }]);
    await writeFile(bad.input, `${JSON.stringify({ deviceId: 'a', ts: T0, values: { voltage: 1, current: 1 } })}\n{"deviceId": "a", "values": {"v": 1}}\n`);
    const run = await tidegate('rules', 'test', '--config', bad.config, '--input', bad.input);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('readings.jsonl:2: give "ts" or "receivedAt"');

    // (YAML drops the trailing space: the expression is "voltage *".)
    const broken = await files(CONFIG.replace('voltage * current', 'voltage * '), []);
    const check = await tidegate('check-config', broken.config);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/rules\[0\]\.stages\[0\]\.fields\.power \(line \d+, column \d+\): rule "machine-power": expression "voltage \*" at column 10: Unexpected token: EOF/);
  });

  it('check-config builds the rules: a registry that does not load is reported with the rule', async () => {
    const { config } = await files('rules:\n  - name: rooms\n    stages:\n      - type: enrich\n        registry: /nonexistent/devices.csv\n', []);
    const check = await tidegate('check-config', config);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('rules "rooms" stages[0] (enrich): device registry /nonexistent/devices.csv cannot be read (ENOENT)');
  });

  it('every shipped example passes check-config, rules and registries included', async () => {
    const examples = (await readdir(path.join(root, 'config/examples'))).filter((f) => f.endsWith('.yaml'));
    expect(examples).toEqual(expect.arrayContaining(['smart-building.yaml', 'industrial-line.yaml']));
    for (const file of examples) {
      const check = await tidegate('check-config', `config/examples/${file}`);
      expect(check.stderr, file).toBe('');
      expect(check.stdout).toMatch(/configuration is valid \(\d+ rules?\)/);
    }
  });
});
