import { describe, expect, it } from 'vitest';
import { compileExpression, dewpoint, ExpressionError } from '../../../src/analytics/rules/expression.js';
import type { Reading } from '../../../src/normalize/reading.js';

const reading = (values: Reading['values'], extra: Partial<Reading> = {}): Reading => ({ deviceId: 'room-1', topic: 'devices/room-1/telemetry', receivedAt: 1_000, values, ...extra });

describe('rule expressions (CEL)', () => {
  it('evaluates unit conversions with integer literals mixed into reading values', () => {
    expect(compileExpression('temperature * 9 / 5 + 32').evaluate(reading({ temperature: 21.5 }))).toBeCloseTo(70.7, 10);
    expect(compileExpression('voltage * current').evaluate(reading({ voltage: 230, current: 2 }))).toBe(460);
    // An integer result of CEL arithmetic comes back as a number, not a bigint.
    expect(compileExpression('1 + 2').evaluate(reading({ x: 1 }))).toBe(3);
  });

  it('names the device, topic, time, values and tags', () => {
    const r = reading({ 'door.open': true, co2: 800 }, { ts: 5_000, tags: { floor: '3' } });
    expect(compileExpression('device == "room-1" && topic.startsWith("devices/")', 'bool').evaluate(r)).toBe(true);
    expect(compileExpression('ts').evaluate(r)).toBe(5_000);
    expect(compileExpression('has(values.co2) && tags.floor == "3"', 'bool').evaluate(r)).toBe(true);
    expect(compileExpression('ts').evaluate(reading({ x: 1 }))).toBe(1_000);
  });

  it('computes the dew point with the Magnus formula', () => {
    // 20 °C at 50 % is a 9.26 °C dew point (Alduchov and Eskridge coefficients).
    expect(dewpoint(20, 50)).toBeCloseTo(9.26, 2);
    expect(compileExpression('round(dewpoint(temperature, humidity), 1)').evaluate(reading({ temperature: 20, humidity: 50 }))).toBe(9.3);
  });

  it('refuses a syntax error with its column', () => {
    const error = (() => {
      try {
        compileExpression('temperature >');
      } catch (e) {
        return e as ExpressionError;
      }
      throw new Error('no error');
    })();
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error.column).toBe(14);
    expect(error.expression).toBe('temperature >');
  });

  it('refuses unknown functions, type errors, and a non-bool where a condition is needed, at compile time', () => {
    expect(() => compileExpression('foo(temperature)')).toThrow(/no matching overload for 'foo/);
    expect(() => compileExpression('"a" + 1')).toThrow(/no such overload: string \+ int/);
    expect(() => compileExpression('1 + 2', 'bool')).toThrow(/must be true or false, but its type is int/);
    // A reading value's type is only known per reading: dyn passes the check.
    expect(compileExpression('door', 'bool').type).toBe('dyn');
  });

  it('throws at evaluation when a named value is absent (the stage decides what that means)', () => {
    expect(() => compileExpression('humidity > 50.0', 'bool').evaluate(reading({ temperature: 1 }))).toThrow(/humidity/);
  });
});
