import { editDistance } from '../core/edit-distance.js';

/**
 * The top-level word a user typed that names no command, if any. `run` is the default command, so without
 * this check `tidegate sttaus` (or `tidegate sttaus --help`) would start a gateway or print the top-level
 * help and exit 0; a typo must be a usage error (exit 2) that names the nearest command.
 */
export function unknownCommand(args: readonly string[], commands: readonly string[]): { word: string; nearest: string | null } | null {
  const word = args[0];
  if (word === undefined || word.startsWith('-') || word === 'help' || commands.includes(word)) return null;
  let nearest: string | null = null;
  let best = Infinity;
  for (const name of commands) {
    const d = editDistance(word, name);
    if (d < best) [best, nearest] = [d, name];
  }
  // Only a suggestion that is plausibly the same word: at most a third of it changed.
  return { word, nearest: best <= Math.max(1, Math.floor(word.length / 3)) ? nearest : null };
}

