#!/usr/bin/env node
/**
 * device-sim CLI: parses flags, shows progress, prints the summary and maps the
 * outcome to an exit code (0 all acknowledged, 1 failures or no connection,
 * 2 bad arguments). All simulation logic lives in simulator.ts.
 */
import { Command, CommanderError } from 'commander';
import { DEFAULTS, OptionsError, optionsFromCli, resolveOptions, type CliValues, type ProgressSnapshot } from './options.js';
import { formatProgressLine, formatSummaryText, isSuccessful, summaryJsonLine, writeReport } from './report.js';
import { ConnectError, runSimulation } from './simulator.js';

interface CliFlags extends CliValues {
  report?: string;
  json?: boolean;
}

function buildProgram(): Command {
  return new Command()
    .name('device-sim')
    .description('Simulates a fleet of IoT sensors publishing JSON telemetry over MQTT, then reports delivery and PUBACK latency.')
    .option('--devices <n>', `number of simulated devices (default: ${DEFAULTS.devices})`)
    .option('--rate <perSec>', `readings per second PER DEVICE, floats allowed, 0.0167 = one a minute (default: ${DEFAULTS.rate})`)
    .option('--total-rate <perSec>', 'readings per second for the whole fleet (instead of --rate)')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--count <n>', 'stop after this many readings in total (with or instead of --duration)')
    .option('--url <url>', `MQTT broker URL (default: ${DEFAULTS.url})`)
    .option('--qos <0|1|2>', `MQTT QoS for publishes (default: ${DEFAULTS.qos})`)
    .option('--connections <n>', `MQTT connections, devices spread round-robin (default: one per device, at most ${DEFAULTS.maxConnections})`)
    .option('--topic-template <template>', `topic per device (default: '${DEFAULTS.topicTemplate}')`)
    .option('--device-prefix <prefix>', 'namespace prepended to device ids and client ids, e.g. lab1- gives lab1-th-0001 (default: none)')
    .option('--seed <n>', 'seed for deterministic sensor values (default: random, printed in the summary)')
    .option('--payload-bytes <n>', 'pad each reading with a "pad" field to exactly n bytes (benchmarks)')
    .option('--max-inflight <n>', `unacknowledged publishes per connection, QoS>0 (default: ${DEFAULTS.maxInflight})`)
    .option('--connect-timeout <seconds>', `give up when the broker is unreachable this long (default: ${DEFAULTS.connectTimeoutMs / 1000})`)
    .option('--drain-timeout <seconds>', `wait this long for outstanding acks at the end (default: ${DEFAULTS.drainTimeoutMs / 1000})`)
    .option('--report <file>', 'write the JSON summary plus per-device ledger to a file')
    .option('--json', 'print the summary as one JSON line instead of text')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  device-sim --devices 50 --rate 10 --duration 60 --url mqtt://127.0.0.1:1883 --qos 1\n' +
        '  device-sim --devices 100 --total-rate 30000 --count 200000 --json\n' +
        '\nExit codes: 0 every reading acknowledged (QoS 0: written), 1 failures or broker unreachable, 2 bad arguments.',
    )
    .showHelpAfterError('(run device-sim --help for usage)')
    .allowExcessArguments(false)
    .exitOverride();
}

/** TTY: rewrite one line on stdout every second. Otherwise: a plain line on stderr every 5 s, log-friendly. */
function progressReporter(): { intervalMs: number; onProgress: (p: ProgressSnapshot) => void; clear: () => void } {
  if (process.stdout.isTTY) {
    return {
      intervalMs: 1000,
      onProgress: (p) => process.stdout.write(`\r\x1b[2K${formatProgressLine(p)}`),
      clear: () => process.stdout.write('\r\x1b[2K'),
    };
  }
  return {
    intervalMs: 5000,
    onProgress: (p) => process.stderr.write(`${formatProgressLine(p)}\n`),
    clear: () => {},
  };
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; commander already printed any error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    throw err;
  }
  const flags = program.opts<CliFlags>();
  const progress = progressReporter();
  let options;
  try {
    options = { ...optionsFromCli(flags), onProgress: progress.onProgress, progressIntervalMs: progress.intervalMs };
    resolveOptions(options); // validate before connecting so bad flags never touch the network
  } catch (err) {
    if (err instanceof OptionsError) {
      process.stderr.write(`device-sim: ${err.message}\n(run device-sim --help for usage)\n`);
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
    if (err instanceof ConnectError) {
      process.stderr.write(`device-sim: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`device-sim: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv).then(
  (code) => {
    // exitCode rather than exit() so piped stdout is flushed before the process ends.
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`device-sim: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
