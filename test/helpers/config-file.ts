import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface ConfigFiles {
  /** Writes `tidegate.yaml` in this test's directory and returns its path. */
  write(text: string): Promise<string>;
  /** A path in this test's directory (for a file that is not there, say). */
  at(name: string): string;
}

/** A fresh directory for each test of the enclosing describe, removed afterwards, to write config files in. */
export function configFilesPerTest(prefix: string): ConfigFiles {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const at = (name: string): string => path.join(dir, name);
  return {
    at,
    async write(text) {
      await writeFile(at('tidegate.yaml'), text);
      return at('tidegate.yaml');
    },
  };
}
