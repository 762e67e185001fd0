import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { resolveRelative } from '../helpers/import-graph.js';

const src = path.resolve(import.meta.dirname, '../../src');

/**
 * The modules a file loads when it runs: static imports and re-exports that are not `import type` /
 * `export type` (with verbatimModuleSyntax, `import { type A }` still loads its module) and, unless
 * `loadedLater` is false, `import()` calls. Relative ones come back as files, packages as their names.
 */
function runtimeImports(file: string, loadedLater: boolean): { files: string[]; packages: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
    else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
    else if (loadedLater && ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) specifiers.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  const files: string[] = [];
  const packages: string[] = [];
  for (const s of specifiers) {
    if (s.startsWith('.')) {
      const target = resolveRelative(file, s);
      if (target) files.push(target);
    } else {
      packages.push(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
    }
  }
  return { files, packages };
}

/**
 * For each package the modules reachable from `entry` load, the chain of files that loads it first; with
 * `loadedLater` false, only what loads with the entry itself, not behind an `import()`.
 */
function packagesReachedFrom(entry: string, loadedLater = true): Map<string, string[]> {
  const via = new Map<string, string | null>([[entry, null]]);
  const queue = [entry];
  const reached = new Map<string, string[]>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    const { files, packages } = runtimeImports(file, loadedLater);
    for (const pkg of packages) {
      if (reached.has(pkg)) continue;
      const chain: string[] = [];
      for (let at: string | null = file; at !== null; at = via.get(at) ?? null) chain.unshift(path.relative(src, at));
      reached.set(pkg, chain);
    }
    for (const next of files) {
      if (via.has(next)) continue;
      via.set(next, file);
      queue.push(next);
    }
  }
  return reached;
}

// `tidegate run` validates its config in a worker thread (src/config/load-in-worker.ts) so that the running
// gateway never holds zod, yaml and the config's schemas (5 MiB of live heap, more resident; issue:
// Pi-class efficiency). An import that brings a schema back into the running side undoes that silently;
// this names the import chain instead.
describe('the running gateway loads no config parsers', () => {
  for (const entry of ['gateway.ts', 'cli/run.ts']) {
    it(`${entry} reaches neither zod nor yaml, through any import`, () => {
      const reached = packagesReachedFrom(path.join(src, entry));
      expect(reached.get('zod'), `zod is loaded via ${reached.get('zod')?.join(' → ')}`).toBeUndefined();
      expect(reached.get('yaml'), `yaml is loaded via ${reached.get('yaml')?.join(' → ')}`).toBeUndefined();
      // The walk itself sees the packages the gateway does use.
      expect([...reached.keys()]).toEqual(expect.arrayContaining(['aedes', 'level', '@aws-sdk/client-kinesis']));
    });
  }

  it('the config worker itself does load them (the walk would see a schema import)', () => {
    const reached = packagesReachedFrom(path.join(src, 'config/load-worker.ts'));
    expect([...reached.keys()]).toEqual(expect.arrayContaining(['zod', 'yaml']));
  });
});

// The direct Kinesis port signs (src/aws/sigv4.ts) and sends every call itself, and the endpoint rules are
// resolved in a worker (src/sinks/kinesis/aws-endpoint.ts), so the running gateway holds no AWS SDK code:
// 2.6 MiB of live heap with the SDK's client, signer and credential chain (issue: Pi-class efficiency).
// The SDK loads only behind an import(): `kinesis.putRecords: sdk`, the first Firehose route, the
// credential chain when the environment has no keys.
describe('the running gateway loads no AWS SDK code until some is asked for', () => {
  // cli/run.ts loads the gateway itself through an import(), so the gateway is where the walk starts.
  it('gateway.ts reaches no @aws-sdk or @smithy package but through an import()', () => {
    const atStart = packagesReachedFrom(path.join(src, 'gateway.ts'), false);
    for (const [pkg, chain] of atStart) {
      expect(/^@(aws-sdk|smithy)\//.test(pkg), `${pkg} is loaded at start via ${chain.join(' → ')}`).toBe(false);
    }
    // The walk itself sees what the gateway loads at start, and the SDK packages behind an import().
    expect([...atStart.keys()]).toEqual(expect.arrayContaining(['aedes', 'level']));
    expect([...packagesReachedFrom(path.join(src, 'gateway.ts')).keys()]).toEqual(expect.arrayContaining(['@aws-sdk/client-kinesis', '@aws-sdk/client-firehose', '@aws-sdk/credential-provider-node']));
  });

  it('the endpoint worker itself does load the Kinesis client (the walk would see one)', () => {
    expect([...packagesReachedFrom(path.join(src, 'sinks/kinesis/endpoint-worker.ts'), false).keys()]).toEqual(expect.arrayContaining(['@aws-sdk/client-kinesis']));
  });
});

// A gateway that only forwards does not load the shipped transforms nor the rules' expression library: about
// 1.9 MiB of live heap (src/pipeline/load-chain.ts loads them when the config has transforms or rules).
describe('the running gateway loads the rules\' expression library only when rules or transforms are configured', () => {
  it('gateway.ts reaches cel-js only through an import()', () => {
    const atStart = packagesReachedFrom(path.join(src, 'gateway.ts'), false);
    expect(atStart.get('@marcbachmann/cel-js'), `cel-js is loaded at start via ${atStart.get('@marcbachmann/cel-js')?.join(' → ')}`).toBeUndefined();
    expect([...packagesReachedFrom(path.join(src, 'gateway.ts')).keys()]).toEqual(expect.arrayContaining(['@marcbachmann/cel-js']));
  });
});
