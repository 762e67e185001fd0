import { describe, expect, it } from 'vitest';
import { shelfEnd } from '../../../src/cli/alarms.js';

describe('tidegate alarms shelve: when the shelf ends', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  it('takes a span, a time or --off', () => {
    expect(shelfEnd({ for: '2h' }, now)).toBe(now + 7_200_000);
    expect(shelfEnd({ for: '90s' }, now)).toBe(now + 90_000);
    expect(shelfEnd({ until: '2026-12-04T06:00:00Z' }, now)).toBe(Date.parse('2026-12-04T06:00:00Z'));
    expect(shelfEnd({ off: true }, now)).toBe(0);
  });
  it('refuses none, several, a bad span and a time in the past, saying how to fix it', () => {
    expect(() => shelfEnd({}, now)).toThrow(/exactly one of --for/);
    expect(() => shelfEnd({ for: '1h', off: true }, now)).toThrow(/exactly one of --for/);
    expect(() => shelfEnd({ for: '2 hours' }, now)).toThrow(/--for must be a span like 90s/);
    expect(() => shelfEnd({ until: '2026-12-01T00:00:00Z' }, now)).toThrow(/not in the future \(use --off/);
  });
});
