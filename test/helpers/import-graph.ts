import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The module graph of TypeScript sources, built from every import the compiler's own pre-processor sees:
 * `import`, `import type`, `export ... from`, `export type ... from` and `import('...')` (in code and in type
 * positions alike). Type-only imports count: a circle of types is still a circle a reader has to untangle,
 * and it turns into a runtime circle the day one of the types becomes a value.
 */
export type ImportGraph = Map<string, string[]>;

/** Every `.ts` file under the given directories (declaration files excluded: they import nothing of ours). */
export function sourceFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (name !== 'node_modules') walk(full);
      } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        out.push(full);
      }
    }
  };
  for (const dir of dirs) walk(dir);
  return out;
}

/** The file a relative specifier names (`./x.js` → `./x.ts`, `./dir` → `./dir/index.ts`), or null when it is not one of ours. */
export function resolveRelative(fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile()) ?? null;
}

export function importGraph(files: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = new Set<string>();
    for (const ref of info.importedFiles) {
      const target = resolveRelative(file, ref.fileName);
      if (target) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/**
 * One circle per strongly connected component with more than one module (or a module importing itself),
 * as the path `a → b → … → a`, found with Tarjan's algorithm. A component can hold several circles; the one
 * shown is a shortest circle through its first module, which is enough to point at the import to move.
 */
export function importCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];

  const connect = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indexOf.has(v)) connect(v);
  return components.map((component) => shortestCircle(graph, component));
}

/** Breadth-first search from the component's first module back to itself, inside the component. */
function shortestCircle(graph: ImportGraph, component: string[]): string[] {
  const start = component[0]!;
  const inside = new Set(component);
  const previous = new Map<string, string>();
  const buffer = [start];
  while (buffer.length > 0) {
    const v = buffer.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const circle = [start];
        for (let at = v; at !== start; at = previous.get(at)!) circle.splice(1, 0, at);
        return [...circle, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        buffer.push(w);
      }
    }
  }
  return component;
}
