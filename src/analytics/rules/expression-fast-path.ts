/**
 * Closures for the part of CEL rules mostly use: numbers, bools and strings, arithmetic, comparisons,
 * `&&`, `||`, `!`, `?:`, `has(values.x)`, `values.x` and the functions tidegate registers. The evaluator walks
 * its tree for every reading and resolves each operator's overload by the operands' runtime types; that
 * was half the CPU of 10 simple rules (profiled: 2.3 of 4.2 µs per reading, issue "Edge analytics").
 *
 * It never decides anything CEL would decide differently: wherever the answer needs more of CEL (an int
 * operation and its overflow, a missing value and its error, a comparison of strings by code point,
 * equality across types), the closure gives up with NOT_HERE and the expression is evaluated by cel-js
 * from the start. An expression using anything else is not compiled at all. A property test compares
 * both on random expressions and readings (test/unit/rules/expression-fast-path.test.ts).
 */

/** Thrown by a closure that meets a case it leaves to cel-js. Not an error: the caller evaluates again. */
export const NOT_HERE: unique symbol = Symbol('not handled by the fast path');

/** How a closure finds a name: the reading scope (undefined when the name is absent). */
export interface NameLookup {
  get(name: string): unknown;
}

export type FastClosure = (scope: NameLookup) => unknown;

/** The JavaScript implementation of a registered function, by name; its CEL signature takes doubles, and ints where `intArgs` says. */
export interface FastFunction {
  readonly impl: (...args: never[]) => unknown;
  /** Per argument: true when the CEL signature declares an int (a bigint at runtime). */
  readonly intArgs: readonly boolean[];
}

interface Node {
  readonly op: string;
  readonly args: unknown;
}

const isNode = (x: unknown): x is Node => typeof x === 'object' && x !== null && typeof (x as Node).op === 'string';

/** The closure for a parsed expression's tree, or null when it uses anything outside the fast part. */
export function compileFastPath(ast: unknown, functions: ReadonlyMap<string, FastFunction>): FastClosure | null {
  try {
    return build(ast, functions);
  } catch (error) {
    if (error === UNSUPPORTED) return null;
    throw error;
  }
}

const UNSUPPORTED = Symbol('unsupported');

function unsupported(): never {
  throw UNSUPPORTED;
}

function notHere(): never {
  throw NOT_HERE;
}

const isMap = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Map) && !Buffer.isBuffer(x);

/** A bigint a double can hold exactly, as a number; otherwise the case is left to cel-js. */
function exactNumber(x: bigint): number {
  const n = Number(x);
  if (!Number.isSafeInteger(n)) notHere();
  return n;
}

function build(node: unknown, functions: ReadonlyMap<string, FastFunction>): FastClosure {
  if (!isNode(node)) unsupported();
  const args = node.args;
  switch (node.op) {
    case 'value': {
      const v = args;
      if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean') return () => v;
      return unsupported();
    }
    case 'id': {
      if (typeof args !== 'string') unsupported();
      const name = args;
      return (scope) => {
        const v = scope.get(name);
        return v === undefined ? notHere() : v;
      };
    }
    case '.': {
      const [objectNode, field] = args as [unknown, unknown];
      if (typeof field !== 'string') unsupported();
      const object = build(objectNode, functions);
      return (scope) => {
        const o = object(scope);
        if (!isMap(o) || !Object.hasOwn(o, field)) notHere();
        const v = o[field];
        return v === undefined || v === null ? notHere() : v;
      };
    }
    case '!_': {
      const operand = build(args, functions);
      return (scope) => {
        const v = operand(scope);
        return typeof v === 'boolean' ? !v : notHere();
      };
    }
    case '-_': {
      const operand = build(args, functions);
      return (scope) => {
        const v = operand(scope);
        return typeof v === 'number' ? -v : notHere();
      };
    }
    case '&&':
    case '||': {
      const [l, r] = (args as [unknown, unknown]).map((a) => build(a, functions)) as [FastClosure, FastClosure];
      const stopOn = node.op === '||';
      return (scope) => {
        const a = l(scope);
        if (typeof a !== 'boolean') notHere();
        if (a === stopOn) return a;
        const b = r(scope);
        return typeof b === 'boolean' ? b : notHere();
      };
    }
    case '?:': {
      const [c, t, f] = (args as [unknown, unknown, unknown]).map((a) => build(a, functions)) as [FastClosure, FastClosure, FastClosure];
      return (scope) => {
        const cond = c(scope);
        if (typeof cond !== 'boolean') notHere();
        return cond ? t(scope) : f(scope);
      };
    }
    case '+':
    case '-':
    case '*':
    case '/':
      return arithmetic(node.op, args as [unknown, unknown], functions);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(node.op, args as [unknown, unknown], functions);
    case '==':
    case '!=': {
      const [l, r] = (args as [unknown, unknown]).map((a) => build(a, functions)) as [FastClosure, FastClosure];
      const negate = node.op === '!=';
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        const type = typeof a;
        if (type !== typeof b || (type !== 'number' && type !== 'string' && type !== 'boolean')) notHere();
        return (a === b) !== negate;
      };
    }
    case 'call':
      return call(args as [unknown, unknown], functions);
    default:
      return unsupported();
  }
}

/**
 * An arithmetic operand as a double: a double, or an int beside a double (tidegate's mixed operators convert
 * the int). Anything else, two ints included, is left to cel-js.
 */
function asDouble(v: unknown, other: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && typeof other === 'number') return Number(v);
  return notHere();
}

function arithmetic(op: '+' | '-' | '*' | '/', args: [unknown, unknown], functions: ReadonlyMap<string, FastFunction>): FastClosure {
  const l = build(args[0], functions);
  const r = build(args[1], functions);
  // A double with a double is plain JS; with an int, see asDouble. Two ints are CEL's own (64-bit, an
  // overflow is an error), and a string + string is left to it too. Each operator has its own closure, with
  // the double case first and no allocation: this runs for every reading.
  switch (op) {
    case '+':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a + b;
        return asDouble(a, b) + asDouble(b, a);
      };
    case '-':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a - b;
        return asDouble(a, b) - asDouble(b, a);
      };
    case '*':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a * b;
        return asDouble(a, b) * asDouble(b, a);
      };
    case '/':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a / b;
        return asDouble(a, b) / asDouble(b, a);
      };
  }
}

/**
 * A comparison operand as a double: a double, or an int a double holds exactly; strings are left to cel-js
 * (CEL compares them by code point, JS by UTF-16 unit), and so are two ints.
 */
function comparable(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return exactNumber(v);
  return notHere();
}

function comparison(op: '<' | '<=' | '>' | '>=', args: [unknown, unknown], functions: ReadonlyMap<string, FastFunction>): FastClosure {
  const l = build(args[0], functions);
  const r = build(args[1], functions);
  const bothInts = (a: unknown, b: unknown): boolean => typeof a === 'bigint' && typeof b === 'bigint';
  switch (op) {
    case '<':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a < b;
        if (bothInts(a, b)) notHere();
        return comparable(a) < comparable(b);
      };
    case '<=':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a <= b;
        if (bothInts(a, b)) notHere();
        return comparable(a) <= comparable(b);
      };
    case '>':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a > b;
        if (bothInts(a, b)) notHere();
        return comparable(a) > comparable(b);
      };
    case '>=':
      return (scope) => {
        const a = l(scope);
        const b = r(scope);
        if (typeof a === 'number' && typeof b === 'number') return a >= b;
        if (bothInts(a, b)) notHere();
        return comparable(a) >= comparable(b);
      };
  }
}

function call(args: [unknown, unknown], functions: ReadonlyMap<string, FastFunction>): FastClosure {
  const [name, list] = args;
  if (typeof name !== 'string' || !Array.isArray(list)) return unsupported();
  if (name === 'has') {
    // has(m.f): whether the map holds the key (the macro's only form on a map).
    const [select] = list as unknown[];
    if (list.length !== 1 || !isNode(select) || select.op !== '.') return unsupported();
    const [objectNode, field] = select.args as [unknown, unknown];
    if (typeof field !== 'string') return unsupported();
    const object = build(objectNode, functions);
    return (scope) => {
      const o = object(scope);
      return isMap(o) ? Object.hasOwn(o, field) : notHere();
    };
  }
  const fn = functions.get(name);
  // Every function tidegate registers takes one or two arguments; a longer call is left to cel-js.
  if (!fn || fn.intArgs.length !== list.length || list.length < 1 || list.length > 2) return unsupported();
  const argClosures = (list as unknown[]).map((a) => build(a, functions));
  const impl = fn.impl as (...args: unknown[]) => unknown;
  const want = fn.intArgs.map((isInt) => (isInt ? 'bigint' : 'number'));
  // No argument array per call: this runs for every reading.
  if (argClosures.length === 1) {
    const [a0] = argClosures as [FastClosure];
    const [w0] = want as [string];
    return (scope) => {
      const x = a0(scope);
      return typeof x === w0 ? impl(x) : notHere();
    };
  }
  const [a0, a1] = argClosures as [FastClosure, FastClosure];
  const [w0, w1] = want as [string, string];
  return (scope) => {
    const x = a0(scope);
    const y = a1(scope);
    return typeof x === w0 && typeof y === w1 ? impl(x, y) : notHere();
  };
}
