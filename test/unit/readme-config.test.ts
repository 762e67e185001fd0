import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The YAML blocks of a markdown file: what a newcomer copies into a config. */
function yamlBlocks(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('the config snippets of the README', () => {
  const blocks = yamlBlocks('README.md');

  it('has snippets to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it.each(blocks.map((block, i) => [i, block] as const))('snippet %i is a valid config', (_i, block) => {
    expect(() => validateConfig(parse(block), 'README.md')).not.toThrow();
  });
});
