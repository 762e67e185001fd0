import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown } from '../src/config/reference-doc.js';

// `npm run docs:config`: regenerates docs/reference/configuration.md from the config slices.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await writeFile(path.join(root, 'docs/reference/configuration.md'), configReferenceMarkdown());
