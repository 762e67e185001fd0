#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeadLetterOptions } from './cli/dead-letters.js';
import type { PasswdOptions } from './cli/passwd.js';
import { unknownCommand } from './cli/unknown-command.js';
import { packageVersion } from './cli/version.js';
import { parseDurationSeconds, parseSince } from './cli/verify/options.js';
import { describeError, isTidegateError } from './core/errors.js';

// Each command loads its own modules when it runs: the gateway (aedes, LevelDB, pino) costs about half a
// second to import, and `tidegate status` or `--version` on a Pi should not pay for it (issue: CLI start
// within 300 ms).
const cli = {
  // Before the gateway's libraries load: they create their `debug` instances at import (src/core/quiet-debug.ts).
  run: () => import('./core/quiet-debug.js').then((m) => (m.quietDisabledDebug(), import('./cli/run.js'))),
  tail: () => import('./cli/tail.js'),
  status: () => import('./cli/status.js'),
  deadLetters: () => import('./cli/dead-letters.js'),
  installService: () => import('./cli/install-service.js'),
  passwd: () => import('./cli/passwd.js'),
  checkConfig: () => import('./cli/check-config.js'),
  configSchema: () => import('./config/json-schema.js'),
};

const DEFAULT_CONFIG = 'config/default.yaml';

// The AWS SDK prints a multi-line warning on Node < 22 into the middle of JSON logs and CLI output;
// `tidegate run` logs the same fact once, as a structured line (see src/cli/run.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type DeadLetterCliOptions = Omit<DeadLetterOptions, 'id'> & { id: number[] };
const normalizeIds = (o: DeadLetterCliOptions): DeadLetterOptions => {
  const { id, ...rest } = o;
  return id.length > 0 ? { ...rest, id } : rest;
};

/** Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage. */
async function exitWith(work: Promise<number>): Promise<void> {
  try {
    process.exitCode = await work;
  } catch (err) {
    // A ConfigError carries ERR_CONFIG_INVALID; matching the code keeps the config modules out of startup.
    if (isTidegateError(err, 'ERR_CONFIG_INVALID') || isTidegateError(err, 'ERR_CONFIG_READ') || isTidegateError(err, 'ERR_USAGE')) {
      process.stderr.write(`tidegate: ${describeError(err)}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`tidegate: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}

/** An option parser for a whole number within bounds; a bad value is a usage error (exit 2), not a crash. */
const wholeNumber =
  (flag: string, min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    const range = max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`;
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a whole number ${range}, got "${v}"`);
    return n;
  };

const program = new Command('tidegate')
  .description('IoT telemetry gateway: MQTT in, a durable LevelDB buffer, Amazon Kinesis out')
  .version(packageVersion(), '-V, --version', 'print the version of tidegate')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('run', { isDefault: true })
  .description('run the gateway (the default command)')
  .option('-c, --config <file>', 'configuration file (YAML)', DEFAULT_CONFIG)
  .action((o: { config: string }) => exitWith(cli.run().then((m) => m.runCommand(o.config))));

/** Commander reports only InvalidArgumentError from an option parser as a usage error; anything else would crash. */
const asUsageError =
  <T>(parse: (v: string) => T) =>
  (v: string): T => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError(describeError(err));
    }
  };

program
  .command('tail')
  .description('print the records in the configured Kinesis stream as JSON lines, from every shard, and follow new ones')
  .option('-c, --config <file>', 'configuration file (YAML)', DEFAULT_CONFIG)
  .option('--stream <name>', 'stream to read (default: kinesis.streamName)')
  .option('--endpoint <url>', 'Kinesis endpoint (default: from the config; the local emulator for endpoint: local)')
  .addOption(new Option('--from <position>', 'where to start in each shard').choices(['trim-horizon', 'latest']).default('trim-horizon'))
  .option('--no-follow', 'exit once every shard has been read to its end')
  .option('-n, --limit <count>', 'exit after this many records', asUsageError((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--limit must be a positive whole number, got "${v}"`);
    return n;
  }))
  .option('--verify', 'read the whole stream once and report per device: gaps, duplicates, reorderings, latency (exit status 3 on gaps, 4 on unreadable records)')
  .option('--since <time>', 'with --verify: start at this time (ISO 8601, or 90s/15m/2h/1d ago) instead of the oldest record', asUsageError((v) => parseSince(v)))
  .option('--duration <seconds>', 'with --verify: stop reading after this long, caught up or not', asUsageError(parseDurationSeconds))
  .option('--json', 'with --verify: print the report as JSON')
  .action((o: { config: string; stream?: string; endpoint?: string; from: 'trim-horizon' | 'latest'; follow: boolean; limit?: number; verify?: boolean; since?: Date; duration?: number; json?: boolean }) => {
    if (!o.verify && (o.since || o.duration !== undefined || o.json)) {
      process.stderr.write('tidegate tail: --since, --duration and --json go with --verify\n');
      process.exitCode = 2;
      return;
    }
    return exitWith(cli.tail().then((m) => m.tailCommand(o)));
  });

program
  .command('status')
  .description('print the conservation counters, buffer use and health of a running gateway, or of a stopped one\'s data dir (exit status 1 when the counters do not balance)')
  .option('-c, --config <file>', 'configuration file (YAML)', DEFAULT_CONFIG)
  .option('--json', 'print the full report as JSON')
  .action((o: { config: string; json?: boolean }) => exitWith(cli.status().then((m) => m.statusCommand(o.config, o.json === true))));

const positiveInt = (what: string) => (v: string, previous?: number[] | number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive whole number, got "${v}"`);
  return Array.isArray(previous) ? [...previous, n] : n;
};

const deadLetters = program
  .command('dead-letters')
  .description('inspect, re-send or delete the messages tidegate could not accept (works on a running gateway and on a stopped one\'s data dir)');
const deadLetterOptions = (cmd: Command): Command =>
  cmd
    .option('-c, --config <file>', 'configuration file (YAML)', DEFAULT_CONFIG)
    .option('--reason <reason>', 'only dead letters with this reason (for example invalid_json, topic_mismatch)')
    .option('--id <n>', 'only this dead letter (repeatable)', positiveInt('--id'), [] as number[])
    .option('--json', 'JSON output');
deadLetterOptions(deadLetters.command('list').description('list dead letters, oldest first'))
  .option('-n, --limit <count>', 'at most this many', positiveInt('--limit'), 100)
  .action((o: DeadLetterCliOptions) => exitWith(cli.deadLetters().then((m) => m.listCommand(normalizeIds(o)))));
deadLetterOptions(deadLetters.command('replay').description('decode dead letters again with the current config and forward those now valid'))
  .action((o: DeadLetterCliOptions) => exitWith(cli.deadLetters().then((m) => m.replayCommand(normalizeIds(o)))));
deadLetterOptions(deadLetters.command('purge').description('delete dead letters (they stay counted as dead-lettered)'))
  .action((o: DeadLetterCliOptions) => exitWith(cli.deadLetters().then((m) => m.purgeCommand(normalizeIds(o)))));

const alarms = program
  .command('alarms')
  .description('list, acknowledge or shelve the alarms of the running gateway (detect rules); changes are committed like any alarm transition');
const alarmOptions = (cmd: Command): Command => cmd.option('-c, --config <file>', 'configuration file (YAML)', DEFAULT_CONFIG).option('--json', 'JSON output');
// Loaded when used, so the other commands do not load the alarm code.
const alarmsCli = () => import('./cli/alarms.js');
alarmOptions(alarms.command('list').description('raised and shelved alarms (--all: every series the rules track)'))
  .option('--rule <name>', 'only this rule')
  .option('--all', 'every tracked series, quiet ones included')
  .action((o: { config: string; json?: boolean; rule?: string; all?: boolean }) => exitWith(alarmsCli().then((m) => m.alarmsListCommand(o))));
alarmOptions(alarms.command('ack').description('acknowledge a raised alarm (it stays raised until its condition clears)'))
  .argument('<rule>', 'the rule name')
  .argument('<deviceId>', 'the device id (or the group key) of the alarm')
  .action((rule: string, deviceId: string, o: { config: string; json?: boolean }) => exitWith(alarmsCli().then((m) => m.alarmsAckCommand(rule, deviceId, o))));
alarmOptions(alarms.command('shelve').description('suppress raises of an alarm until a time (an alarm already raised stays raised and still clears)'))
  .argument('<rule>', 'the rule name')
  .argument('<deviceId>', 'the device id (or the group key) of the alarm')
  .option('--for <span>', 'for this long: 90s, 15m, 2h, 1d')
  .option('--until <time>', 'until this ISO 8601 time')
  .option('--off', 'lift the shelf now')
  .action((rule: string, deviceId: string, o: { config: string; json?: boolean; for?: string; until?: string; off?: boolean }) => exitWith(alarmsCli().then((m) => m.alarmsShelveCommand(rule, deviceId, o))));

program
  .command('install-service')
  .description('write a systemd unit for tidegate (restart on failure, memory limit, its own user); --output - prints it')
  .option('-c, --config <file>', 'configuration file (YAML) the service runs with', DEFAULT_CONFIG)
  .option('--user <name>', 'system user the service runs as', 'tidegate')
  .option('--output <file>', 'where to write the unit, or - for standard output', '/etc/systemd/system/tidegate.service')
  .option('--memory-max <size>', 'systemd MemoryMax', '512M')
  .option('--heap-mib <n>', 'V8 heap cap in MiB (--max-old-space-size)', wholeNumber('--heap-mib', 32, Infinity), 128)
  .option('--semi-space-mib <n>', 'V8 semi-space size in MiB (--max-semi-space-size)', wholeNumber('--semi-space-mib', 1, 64), 4)
  .action((o: { config: string; user: string; output: string; memoryMax: string; heapMib: number; semiSpaceMib: number }) =>
    exitWith(
      cli.installService().then((m) =>
        m.installServiceCommand({ config: o.config, user: o.user, output: o.output, memoryMax: o.memoryMax, heapMiB: o.heapMib, semiSpaceMiB: o.semiSpaceMib }),
      ),
    ),
  );

const passwd = program
  .command('passwd')
  .description('manage the MQTT users file (mqtt.auth.usersFile): salted scrypt hashes, written atomically with mode 0600');
const passwdOptions = (cmd: Command): Command =>
  cmd
    .option('--file <path>', 'users file (default: mqtt.auth.usersFile of the config)')
    .option('-c, --config <file>', 'configuration file (YAML) naming the users file', DEFAULT_CONFIG);
passwdOptions(passwd.command('add').description('add a user, or set a new password for it (asked without echo, or read from stdin)'))
  .argument('<user>', 'username, which is also the device id')
  .option('--password-stdin', 'read the password from standard input (for scripts; no terminal needed)')
  .action((user: string, o: PasswdOptions) => exitWith(cli.passwd().then((m) => m.passwdAdd(user, o))));
passwdOptions(passwd.command('remove').description('remove a user (a connected device keeps its connection until it reconnects)'))
  .argument('<user>', 'username')
  .action((user: string, o: PasswdOptions) => exitWith(cli.passwd().then((m) => m.passwdRemove(user, o))));
passwdOptions(passwd.command('list').description('list the users and the scrypt parameters of their hashes'))
  .action((o: PasswdOptions) => exitWith(cli.passwd().then((m) => m.passwdList(o))));

program
  .command('config-schema')
  .description('print the JSON Schema of the configuration file (for editors; config/tidegate.schema.json is a copy)')
  .action(() => exitWith(cli.configSchema().then((m) => (process.stdout.write(`${JSON.stringify(m.configJsonSchema(), null, 2)}\n`), 0))));

program
  .command('rules')
  .description('edge analytics rules')
  .command('test')
  .description('run the config\'s transforms and rules over readings (JSON lines) on virtual time and print what they would buffer, as JSON lines; a summary goes to stderr')
  .requiredOption('-c, --config <file>', 'configuration file (YAML)')
  .requiredOption('-i, --input <file>', 'readings, one JSON object a line: {"deviceId", "ts", "values", optional topic, seq, receivedAt, tags}')
  .option('--no-flush', 'at the end, do not flush open windows (as a stop with shutdown checkpointing would)')
  .action((o: { config: string; input: string; flush: boolean }) => exitWith(import('./cli/rules-test.js').then((m) => m.rulesTestCommand(o))));

program
  .command('check-config')
  .description('validate a configuration file; every problem is printed with its path (exit status 2 when invalid)')
  .argument('<file>', 'configuration file (YAML)')
  .option('--print', 'print the effective configuration, defaults filled in')
  .action((file: string, o: { print?: boolean }) => exitWith(cli.checkConfig().then((m) => m.checkConfigCommand(file, o.print === true))));

const unknown = unknownCommand(process.argv.slice(2), program.commands.map((c) => c.name()));
if (unknown) {
  process.stderr.write(`tidegate: unknown command '${unknown.word}'${unknown.nearest ? ` (did you mean '${unknown.nearest}'?)` : ''}; 'tidegate --help' lists the commands\n`);
  process.exit(2);
}
await program.parseAsync(process.argv);
