import { requireResolved, resolveAsSeenBy } from './require-from.js';

/** The parts of the `debug` package's factory this module relies on. */
interface DebugFactory {
  (namespace: string): DebugInstance;
  enabled(namespace: string): boolean;
  [key: string]: unknown;
}
interface DebugInstance {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  log?: unknown;
  extend(namespace: string, delimiter?: string): DebugInstance;
}

/** Libraries on the gateway's hot path that call `debug(...)` per packet (resolved from their own directory). */
const HOT_PATH_USERS = ['mqtt-packet', 'mqtt', 'modbus-serial'];

const QUIET = Symbol.for('tidegate.quietDebug');

/**
 * Makes the `debug` package hand out a function that does nothing, takes no arguments and so allocates
 * nothing, for every namespace that `DEBUG` does not enable. A disabled `debug` instance still collects its
 * arguments into a rest array before it looks whether it is enabled; mqtt-packet calls it about a dozen
 * times per packet, and those arrays were the largest single item in a burst's allocation profile: about
 * 0.85 KB of the 12 KB a reading allocated (issue: Pi-class efficiency; bench/RESULTS.md, End to end). Namespaces `DEBUG` enables get the real instance, so
 * `DEBUG=mqtt-packet:* tidegate run` prints as before; like `debug` itself, `DEBUG` is read at start.
 *
 * Must run before the libraries load (they create their instances at import). Idempotent; a copy of
 * `debug` that cannot be resolved is left alone. Returns how many copies of `debug` it wrapped.
 */
export function quietDisabledDebug(): number {
  let wrapped = 0;
  const seen = new Set<string>();
  for (const user of HOT_PATH_USERS) {
    let file: string;
    try {
      file = resolveAsSeenBy(user, 'debug');
    } catch {
      continue; // the library (or its debug) is not installed: nothing to wrap
    }
    if (seen.has(file)) continue;
    seen.add(file);
    const { exports: real, cached } = requireResolved<DebugFactory>(file);
    if ((real as { [QUIET]?: boolean })[QUIET] || !cached) continue;
    cached.exports = quietFactory(real);
    wrapped += 1;
  }
  return wrapped;
}

/** A factory with the real one's properties (`enable`, `formatters`, `default`...), creating quiet instances. */
function quietFactory(real: DebugFactory): DebugFactory {
  const factory = ((namespace: string) => (real.enabled(namespace) ? real(namespace) : quietInstance(namespace, factory))) as DebugFactory;
  Object.assign(factory, real);
  factory.default = factory;
  factory.debug = factory;
  Object.defineProperty(factory, QUIET, { value: true });
  return factory;
}

function quietInstance(namespace: string, factory: DebugFactory): DebugInstance {
  // No parameters: the arguments of a call are not collected into anything.
  const quiet = (() => undefined) as unknown as DebugInstance;
  Object.defineProperty(quiet, 'enabled', { enumerable: true, get: () => false, set: () => undefined });
  quiet.namespace = namespace;
  quiet.extend = (sub: string, delimiter = ':') => factory(namespace + delimiter + sub);
  return quiet;
}
