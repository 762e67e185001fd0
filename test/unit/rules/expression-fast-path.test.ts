import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionError } from '../../../src/analytics/rules/expression.js';
import type { Reading } from '../../../src/normalize/reading.js';

/** What an evaluation came to: a value, or an error with its message. */
function outcome(evaluate: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: evaluate() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const atom = fc.oneof(
  fc.constantFrom('t', 'h', 'n', 's', 'b', 'missing', 'values.t', 'values.zz', 'values.s', 'tags.room', 'tags.zz', 'ts', 'device'),
  fc.constantFrom('0', '1', '2', '5', '9', '-3', '9007199254740993', '0.0', '1.5', '-0.0', '100.0', '1e308', '"a"', '"é"', '"😀"', 'true', 'false'),
  fc.constantFrom('has(values.t)', 'has(values.zz)', 'has(tags.room)'),
);

const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('e'), fc.constantFrom('+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&&', '||'), tie('e')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc.tuple(fc.constantFrom('!', '-'), tie('e')).map(([op, a]) => `${op}(${a})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc.tuple(fc.constantFrom('abs', 'sqrt'), tie('e')).map(([f, a]) => `${f}(${a})`),
    fc.tuple(fc.constantFrom('min', 'max', 'dewpoint', 'round'), tie('e'), tie('e')).map(([f, a, b]) => `${f}(${a}, ${b})`),
    tie('e').map((a) => `size(${a})`),
  ),
})).e;

// Small integers most often, so values meet the int literals (equality across int and double, exact ints).
const number = fc.oneof({ arbitrary: fc.integer({ min: -3, max: 9 }), weight: 4 }, fc.double({ noNaN: true }), fc.constantFrom(0.5, -0, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308));

const reading: fc.Arbitrary<Reading> = fc
  .record(
    {
      t: number,
      h: number,
      n: fc.integer({ min: -5, max: 5 }),
      s: fc.constantFrom('a', 'b', 'é', '😀', ''),
      b: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .chain((values) =>
    fc.record({ tags: fc.option(fc.record({ room: fc.constantFrom('3.14', 'lab') }), { nil: undefined }), ts: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }) }).map(
      ({ tags, ts }): Reading => ({ deviceId: 'd1', topic: 'devices/d1/t', receivedAt: 1_000, values, ...(tags ? { tags } : {}), ...(ts !== undefined ? { ts } : {}) }),
    ),
  );

describe('rule expressions: the fast path', () => {
  it('gives what cel-js gives, value or error, on random expressions and readings', () => {
    let compared = 0;
    let onFastPath = 0;
    fc.assert(
      fc.property(expression, fc.array(reading, { minLength: 1, maxLength: 5 }), (source, readings) => {
        let fast;
        let slow;
        try {
          fast = compileExpression(source);
          slow = compileExpression(source, undefined, { fastPath: false });
        } catch (error) {
          // An expression the checker refuses is refused either way.
          expect(error).toBeInstanceOf(ExpressionError);
          return;
        }
        if (fast.fastPath) onFastPath += 1;
        for (const r of readings) {
          expect(outcome(() => fast.evaluate(r))).toEqual(outcome(() => slow.evaluate(r)));
          compared += 1;
        }
      }),
      { numRuns: 3_000 },
    );
    // Many generated expressions type-check, and many of those run on the fast path: the comparison is not vacuous.
    expect(compared).toBeGreaterThan(1_000);
    expect(onFastPath).toBeGreaterThan(300);
  });

  it('gives the same on the expressions rules are written with', () => {
    const sources = [
      'has(values.temperature) ? temperature * 9 / 5 + 32 : 0.0',
      '!has(values.temperature) || (temperature > -100.0 && temperature < 200.0)',
      'temperature > 25 && humidity >= 60.0',
      'voltage * current',
      'round(dewpoint(temperature, humidity), 1)',
      'co2 > 1000 || tags.room == "lab"',
      'abs(temperature - 21.0) <= 0.5',
      // Where CEL's answer is its own: int arithmetic and overflow, int literals next to doubles, strings.
      'temperature == 30',
      'temperature != 30',
      'temperature < 9007199254740993',
      '9007199254740993 + 1',
      '-9223372036854775808 - 1',
      '1 / 0',
      'temperature / 0',
      'co2 == humidity',
      'temperature > humidity',
    ];
    const readings: Reading[] = [
      { deviceId: 'd', topic: 't', receivedAt: 0, values: { temperature: 21.5, humidity: 61, voltage: 230, current: 2, co2: 800 }, tags: { room: 'lab' } },
      { deviceId: 'd', topic: 't', receivedAt: 0, values: { temperature: 30, humidity: 40, voltage: 0, current: 0.5, co2: 1200 } },
      { deviceId: 'd', topic: 't', receivedAt: 0, values: { humidity: 40 } },
      { deviceId: 'd', topic: 't', receivedAt: 0, values: { temperature: 'warm', co2: true } },
      { deviceId: 'd', topic: 't', receivedAt: 0, values: { temperature: '😀', humidity: 'é', co2: 'x' } },
    ];
    for (const source of sources) {
      const fast = compileExpression(source);
      const slow = compileExpression(source, undefined, { fastPath: false });
      expect(fast.fastPath, source).toBe(true);
      for (const r of readings) expect(outcome(() => fast.evaluate(r)), `${source} on ${JSON.stringify(r.values)}`).toEqual(outcome(() => slow.evaluate(r)));
    }
  });
});
