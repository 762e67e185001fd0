// Apart from config.ts so the running sources label ports without loading the config's schemas.

/** A port's or bus's label on metrics and logs: its name, or the last part of its path. */
export function serialLabel(entry: { name?: string | undefined; path: string }): string {
  return entry.name ?? entry.path.split('/').filter(Boolean).pop() ?? entry.path;
}
