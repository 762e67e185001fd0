import { readFileSync } from 'node:fs';

/**
 * The package's version, from the nearest package.json above this file: `src/cli/` when run from source,
 * `dist/src/cli/` when built, the installed package's folder when installed.
 */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tidegate' && pkg.version) return pkg.version;
    } catch {
      // not at this level; try the next one up
    }
  }
  return 'unknown';
}
