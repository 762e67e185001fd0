import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The path of `dependency` as `user` (an installed package) resolves it: the copy that package loads, which
 * need not be the one resolved from here when npm installs several. Throws when either is not installed.
 */
export function resolveAsSeenBy(user: string, dependency: string): string {
  return require.resolve(dependency, { paths: [path.dirname(require.resolve(`${user}/package.json`))] });
}

/** `require` of a CommonJS module by its resolved path, and the module-cache entry it now has. */
export function requireResolved<T>(file: string): { exports: T; cached: NodeJS.Module | undefined } {
  const exports = require(file) as T;
  return { exports, cached: require.cache[file] };
}
