/**
 * Device id globs as config writes them: `*` any run of characters, `?` one character, everything else
 * literal. One compiled pattern for a list (any of them matches).
 */
export function compileGlobs(globs: readonly string[]): RegExp {
  return new RegExp(`^(?:${globs.map(globToPattern).join('|')})$`, 's');
}

function globToPattern(glob: string): string {
  return glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
}
