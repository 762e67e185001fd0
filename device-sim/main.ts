#!/usr/bin/env node
/**
 * device-sim CLI: `run` (the default, so `device-sim --devices 50 ...` works as
 * it always did), `audit` and `check-scenario`. Commands live in cli/; all
 * simulation logic in simulator.ts. Exit codes: 0 success, 1 runtime failure
 * (readings unacknowledged or lost, broker unreachable), 2 bad usage.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './cli/program.js';

// The AWS SDK (used by `audit`) prints a multi-line Node.js 22 notice into the report output; the gateway's
// own log carries that notice once.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; commander already printed any error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? 0 : 2;
    }
    throw err;
  }
  return code;
}

main(process.argv).then(
  (code) => {
    // exitCode rather than exit() so piped stdout is flushed before the process ends.
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`device-sim: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
