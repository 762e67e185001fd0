/**
 * Scenario problems, each with the path of the offending key, all reported at
 * once (the same shape as the gateway's config errors), so fixing a file takes
 * one round trip instead of one per mistake.
 */
import type { z } from 'zod';

export interface ScenarioProblem {
  path: string;
  message: string;
}

export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ScenarioProblem[],
  ) {
    const lines = problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`);
    super(`invalid scenario ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'ScenarioError';
  }
}

export function joinPath(p: ReadonlyArray<PropertyKey>): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

export function problemsFromZod(issues: readonly z.core.$ZodIssue[]): ScenarioProblem[] {
  return issues.map((i) => {
    const path = joinPath(i.path);
    if (i.code === 'unrecognized_keys') {
      return { path, message: `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (check the spelling against device-sim/README.md)` };
    }
    if (i.code === 'invalid_key') {
      // A bad record key (a field or profile name): the nested issue says why.
      return { path, message: i.issues[0]?.message ?? i.message };
    }
    if (i.code === 'invalid_type' && i.input === undefined) return { path, message: `required (${i.message})` };
    return { path, message: i.message };
  });
}
