import { TidegateError } from '../core/errors.js';
import type { ConfigProblem } from './problem.js';

// Apart from config-document.ts (yaml) and the schema (zod): a config loaded in a worker thread is
// reported in the main thread with this class too (load-in-worker.ts).

export class ConfigError extends TidegateError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super('ERR_CONFIG_INVALID', formatProblems(source, problems));
  }
}

export function formatProblems(source: string, problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  - ${p.path || '(top level)'}${p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : ''}: ${p.message}`);
  return `invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
