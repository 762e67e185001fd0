import { describe, expect, it } from 'vitest';
import type { Transform } from '../../src/pipeline/transform.js';
import { DropFields } from '../../src/pipeline/transforms/drop-fields.js';
import { describeTransform, sampleReadings, transformContext } from './transform.contract.js';

describeTransform('drop_fields (one field)', () => new DropFields('drop_fields#0', { fields: ['debug'] }));
describeTransform('drop_fields (every field: filters)', () => new DropFields('drop_fields#0', { fields: ['temp', 'hum', 'debug', 'ok'] }));
describeTransform('drop_fields (some devices)', () => new DropFields('drop_fields#0', { fields: ['debug', 'ok'], devices: ['dev-[1]', 'dev-2*'] }));

describe('drop_fields', () => {
  it('removes the named values and keeps everything else', () => {
    const t: Transform = new DropFields('drop_fields#0', { fields: ['debug', 'absent'] });
    const [r] = sampleReadings(1);
    expect(t.process(r!, transformContext())).toEqual({ fate: 'pass', reading: { ...r!, values: { temp: 20, hum: 40, ok: true } } });
  });

  it('filters a reading left without values, with a reason', () => {
    const t: Transform = new DropFields('drop_fields#0', { fields: ['a'] });
    const r = { ...sampleReadings(1)[0]!, values: { a: 1 } };
    expect(t.process(r, transformContext())).toEqual({ fate: 'filter', reason: 'no_values_left' });
  });

  it('touches only devices matching its globs, with glob characters only as wildcards', () => {
    const t: Transform = new DropFields('drop_fields#0', { fields: ['debug'], devices: ['dev-1', 'site.?-*'] });
    const ctx = transformContext();
    const base = sampleReadings(1)[0]!;
    const fateOf = (deviceId: string) => {
      const result = t.process({ ...base, deviceId }, ctx);
      return result.fate === 'pass' && !('debug' in result.reading.values);
    };
    expect(fateOf('dev-1')).toBe(true);
    expect(fateOf('dev-10')).toBe(false);
    expect(fateOf('site.a-7')).toBe(true);
    expect(fateOf('siteXa-7')).toBe(false);
  });
});
