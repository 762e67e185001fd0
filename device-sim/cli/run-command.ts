/**
 * `device-sim run` (also the default command): flags -> options -> run with a
 * progress line -> summary (+ report) -> exit code: 0 every reading
 * acknowledged (QoS 0/serial: written), 1 failures or no connection, 2 bad
 * arguments or scenario.
 */
import { OptionsError, type SimulationOptions } from '../options.js';
import { resolveOptions } from '../plan.js';
import { formatSummaryText, isSuccessful, summaryJsonLine, writeReport } from '../report.js';
import { ScenarioError } from '../scenario/errors.js';
import { loadScenarioFile } from '../scenario/load.js';
import { TruthFileError } from '../anomalies/truth.js';
import { ConnectError, runSimulation } from '../simulator.js';
import { progressReporter } from './progress.js';
import { optionsFromCli, type CliValues } from './run-flags.js';

export interface RunFlags extends CliValues {
  report?: string;
  json?: boolean;
  progress?: boolean;
}

const usageHint = '(run device-sim run --help for usage)';

export async function runCommand(flags: RunFlags): Promise<number> {
  const progress = progressReporter(flags.progress !== false);
  let options: SimulationOptions;
  try {
    // Load the scenario once, up front: its problems are usage errors (exit 2) and must not touch the network.
    const scenario = flags.scenario !== undefined ? loadScenarioFile(flags.scenario) : undefined;
    options = { ...optionsFromCli(flags, process.env), scenario, onProgress: progress.onProgress, progressIntervalMs: progress.intervalMs };
    resolveOptions(options);
  } catch (err) {
    if (err instanceof OptionsError || err instanceof ScenarioError) {
      process.stderr.write(`device-sim: ${err.message}\n${usageHint}\n`);
      return 2;
    }
    throw err;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(130); // second Ctrl-C: the user does not want to wait for acks
    progress.clear();
    process.stderr.write(`device-sim: ${sig} received, stopping; waiting for outstanding acks (Ctrl-C again to quit now)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runSimulation(options, controller.signal);
    progress.clear();
    process.stdout.write(`${flags.json ? summaryJsonLine(summary) : formatSummaryText(summary)}\n`);
    if (flags.report) {
      try {
        await writeReport(flags.report, summary);
      } catch (err) {
        process.stderr.write(`device-sim: could not write report ${flags.report}: ${(err as Error).message}\n`);
        return 1;
      }
    }
    return isSuccessful(summary) ? 0 : 1;
  } catch (err) {
    progress.clear();
    if (err instanceof ConnectError || err instanceof TruthFileError) {
      process.stderr.write(`device-sim: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
