/**
 * The whole environment of a process a test spawns: what a child needs to start (PATH, HOME, NODE_OPTIONS
 * and a temp dir, when set) plus what the test names, and nothing else. Inheriting the parent's environment
 * would hand a test gateway a deployment shell's TIDEGATE_DATA_DIR, TIDEGATE_KINESIS_* or AWS_* settings and
 * send it at real data and a real stream.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'NODE_OPTIONS', 'TMPDIR'] as const) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}
