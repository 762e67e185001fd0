import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { BUILTIN_PROFILES } from '../../../device-sim/model/profiles.js';
import { ScenarioError } from '../../../device-sim/scenario/errors.js';
import { loadScenarioFile, parseScenario } from '../../../device-sim/scenario/load.js';
import { parseDuration, parseRatio } from '../../../device-sim/scenario/units.js';

const scenariosDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../device-sim/scenarios');

/** The problems of an invalid document, as "path: message" lines. */
function problems(doc: unknown, baseDir = scenariosDir): string[] {
  try {
    parseScenario(doc, 'test.yaml', baseDir);
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

const fleet = { id: 'th-{i:03}', count: 3, profile: 'th' };

describe('shipped scenarios', () => {
  const files = readdirSync(scenariosDir).filter((f) => f.endsWith('.yaml'));

  it('include at least a steady office floor, a burst, a flaky uplink and dirty serial', () => {
    expect(files).toEqual(expect.arrayContaining(['office-floor.yaml', 'burst.yaml', 'flaky-uplink.yaml', 'dirty-serial.yaml']));
  });

  for (const file of files) {
    it(`${file} parses and validates`, () => {
      const s = loadScenarioFile(path.join(scenariosDir, file));
      expect(s.doc.fleets.length).toBeGreaterThan(0);
      expect(s.doc.name).toBe(file.replace('.yaml', ''));
    });
  }

  it('dirty-serial is a serial scenario with line faults', () => {
    const s = loadScenarioFile(path.join(scenariosDir, 'dirty-serial.yaml'));
    expect(s.doc.transport?.serial?.framing).toBe('kv');
    expect(Object.keys(s.doc.faults ?? {})).toEqual(expect.arrayContaining(['malformed', 'noise']));
  });

  it('built-in profiles cover smart buildings and industrial IoT', () => {
    expect(Object.keys(BUILTIN_PROFILES).sort()).toEqual(['co2', 'door', 'energy', 'occ', 'pressure', 'th', 'vibration']);
  });
});

describe('invalid scenarios fail with the path of every problem', () => {
  it('reports a missing fleets list', () => {
    expect(problems({ name: 'x' })).toEqual([expect.stringMatching(/^fleets: required/)]);
  });

  it('reports unknown keys, bad durations and bad ratios at their paths, all at once', () => {
    const p = problems({
      fleets: [{ ...fleet, interval: '10 parsecs', jitter: 'lots', colour: 'red' }],
      faults: { duplicates: { ratio: 2 } },
      run: { count: -1 },
    });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^fleets\[0\]: unknown key "colour"/),
        expect.stringMatching(/^fleets\[0\]\.interval: expected a duration such as "250ms"/),
        expect.stringMatching(/^fleets\[0\]\.jitter: expected a ratio from 0 to 1/),
        expect.stringMatching(/^faults\.duplicates\.ratio: expected a ratio/),
        expect.stringMatching(/^run\.count: /),
      ]),
    );
    expect(p).toHaveLength(5);
  });

  it('names unknown generator types and bad fields inside profiles', () => {
    const p = problems({
      profiles: { mine: { fields: { temp: { type: 'sinus', amplitude: 1 }, seq: { type: 'noise', sd: 1 } } } },
      fleets: [{ id: 'm-{i}', count: 2, profile: 'mine' }],
    });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^profiles\.mine\.fields\.temp\.type: unknown or missing generator "type"; use one of constant, sine/),
        expect.stringMatching(/^profiles\.mine\.fields\.seq: .*reserved/),
      ]),
    );
  });

  it('reports unknown profiles, missing field references and cycles where they are written', () => {
    const p = problems({
      profiles: {
        loop: { fields: { a: { type: 'follow', field: 'b' }, b: { type: 'follow', field: 'a' } } },
      },
      fleets: [
        { id: 'x-{i}', count: 2, profile: 'thermostat' },
        { id: 'y-{i}', count: 2, profile: 'th', fields: { dew: { type: 'follow', field: 'dewpoint' } } },
        { id: 'z-{i}', count: 2, profile: 'loop' },
      ],
    });
    expect(p).toEqual([
      expect.stringMatching(/^fleets\[0\]\.profile: unknown profile "thermostat"; known profiles: loop, th, occ, co2/),
      expect.stringMatching(/^fleets\[1\]\.fields\.dew: reads field "dewpoint", which this device does not have/),
      expect.stringMatching(/^profiles\.loop\.fields\.a: fields depend on each other in a cycle: a -> b -> a/),
    ]);
  });

  it('rejects id patterns that collide or cannot be topic levels', () => {
    const p = problems({
      fleets: [
        { id: 'th', count: 5, profile: 'th' },
        { id: 'a-{i}', count: 3, profile: 'th' },
        { id: 'a-{i}', count: 1, start: 3, profile: 'occ' },
        { id: 'room/{i}', count: 2, profile: 'th' },
        { id: 'b-{n}', count: 2, profile: 'th' },
      ],
    });
    expect(p).toEqual([
      'fleets[0].id: all 5 devices would be called "th"; add {i} or {i:03} to the pattern',
      'fleets[2].id: device id "a-3" is also produced by fleets[1]; ids must be unique (change id, start or count)',
      'fleets[3].id: device id "room/1" contains /, +, #, whitespace or NUL; it is one MQTT topic level',
      'fleets[3].id: device id "room/2" contains /, +, #, whitespace or NUL; it is one MQTT topic level',
      'fleets[4].id: unknown placeholder {n} in "b-{n}"; use {i}, {i:03} (zero-padded), {profile} or {fleet}',
    ]);
  });

  it('checks fault fleet filters, transport-specific faults and jitter', () => {
    const p = problems({
      transport: { serial: { path: '/dev/null' } },
      fleets: [{ ...fleet, name: 'climate', jitter: 0.7 }],
      faults: { duplicates: { ratio: 0.1, fleets: ['climat'] }, disconnects: [{ at: '1s', fraction: 0.5 }] },
    });
    expect(p).toEqual([
      'fleets[0].jitter: jitter is at most 0.5 (half an interval), so a device\'s readings stay in order (got 0.7)',
      'faults.duplicates.fleets[0]: no fleet is named "climat"; fleets: climate',
      'faults.disconnects: disconnect storms apply to MQTT connections; a serial port has none (remove them or use transport.mqtt)',
    ]);
    expect(problems({ transport: { mqtt: {}, serial: { path: 'x' } }, fleets: [fleet] })).toEqual([
      'transport: choose one transport: mqtt or serial, not both',
    ]);
  });

  it('reports unreadable replay files and missing columns', () => {
    const p = problems({
      fleets: [
        { id: 'p-{i}', count: 2, fields: { p: { type: 'replay', file: 'data/line-pressure.csv', column: 'pressure' } } },
        { id: 'q-{i}', count: 2, fields: { p: { type: 'sum', of: [{ type: 'replay', file: 'data/nope.csv', column: 'x' }] } } },
      ],
    });
    expect(p).toEqual([
      expect.stringMatching(/^fleets\[0\]\.fields\.p\.column: .*line-pressure\.csv: no column "pressure"; the header has "t_s", "pressure_bar", "flow_m3h"/),
      expect.stringMatching(/^fleets\[1\]\.fields\.p\.of\[0\]\.file: cannot read .*nope\.csv/),
    ]);
  });

  it('reports YAML syntax errors with their line, and unreadable files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'device-sim-scenario-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      writeFileSync(file, 'fleets:\n  - id: th-{i}\n   count: 3\n');
      expect(() => loadScenarioFile(file)).toThrow(/bad\.yaml \(1 problem\):\n {2}- \(top level\): not valid YAML at line 3, column 1: Sequence item without - indicator$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => loadScenarioFile(path.join(scenariosDir, 'does-not-exist.yaml'))).toThrow(/cannot read the file: ENOENT/);
  });
});

describe('units', () => {
  it('parses durations with units, and bare numbers as seconds', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration(3)).toBe(3_000);
    for (const bad of ['10', '-1s', 's', '10 parsecs', -1, Infinity, true]) expect(parseDuration(bad)).toBeNull();
  });

  it('parses ratios as fractions or percentages within 0..1', () => {
    expect(parseRatio(0.25)).toBe(0.25);
    expect(parseRatio('5%')).toBeCloseTo(0.05);
    expect(parseRatio('100%')).toBe(1);
    for (const bad of [1.5, -0.1, '150%', 'half', '0.5']) expect(parseRatio(bad)).toBeNull();
  });
});
