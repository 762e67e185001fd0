import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph, sourceFiles, type ImportGraph } from '../helpers/import-graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const relative = (file: string): string => path.relative(root, file);

describe('import cycles', () => {
  it('src/ and device-sim/ have none, type-only imports included', () => {
    const graph = importGraph(sourceFiles([path.join(root, 'src'), path.join(root, 'device-sim')]));
    // The graph must be the real one: a resolver that found nothing would pass vacuously.
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.values()].reduce((n, targets) => n + targets.length, 0)).toBeGreaterThan(graph.size);
    const cycles = importCycles(graph).map((cycle) => cycle.map(relative).join(' → '));
    // The message names every circle, so the import to move is visible in the CI log.
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('finds a circle through type-only imports and shows its path', () => {
    const graph: ImportGraph = new Map([
      ['/a.ts', ['/b.ts']],
      ['/b.ts', ['/c.ts']],
      ['/c.ts', ['/a.ts', '/d.ts']],
      ['/d.ts', []],
      ['/e.ts', ['/e.ts']],
    ]);
    expect(importCycles(graph)).toEqual([
      ['/a.ts', '/b.ts', '/c.ts', '/a.ts'],
      ['/e.ts', '/e.ts'],
    ]);
  });
});
