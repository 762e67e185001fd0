/**
 * The device-sim command line: `run` (the default, so `device-sim --devices 50 ...` works as it always
 * did), `audit` and `check-scenario`. Separate from main.ts so tests can inspect it without running it.
 */
import { Command } from 'commander';
import { addAuditFlags, auditCommand, type AuditFlags } from './audit-command.js';
import { checkScenarioCommand } from './check-command.js';
import { runCommand, type RunFlags } from './run-command.js';
import { addRunFlags } from './run-flags.js';

/** The commander program; actions report their exit code through setCode. */
export function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command()
    .name('device-sim')
    .description('Simulates fleets of IoT sensors publishing telemetry over MQTT or a serial port, injects faults, and audits what reached the stream.')
    .showHelpAfterError('(run device-sim --help for usage)')
    .exitOverride();

  addRunFlags(program.command('run', { isDefault: true }).description('simulate devices (the default command)'))
    .allowExcessArguments(false)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  device-sim --devices 50 --rate 10 --duration 60 --url mqtt://127.0.0.1:1883 --qos 1\n' +
        '  device-sim run --scenario device-sim/scenarios/office-floor.yaml --duration 30 --report out.json\n' +
        '  device-sim --devices 10000 --connections per-device --total-rate 20000 --duration 60 --qos 1\n' +
        '  device-sim --scenario device-sim/scenarios/dirty-serial.yaml --serial /tmp/ttyA\n' +
        '\nExit codes: 0 every reading acknowledged (QoS 0 and serial: written), 1 failures or broker unreachable, 2 bad arguments.',
    )
    .action(async (flags: RunFlags) => setCode(await runCommand(flags)));

  addAuditFlags(program.command('audit').description('compare a run report with what reached a Kinesis stream (loss, duplicates, reordering, latency) and score alarms against the ground truth of injected anomalies'))
    .addHelpText(
      'after',
      '\nExamples (the gateway\'s local emulator):\n  device-sim audit --report out.json --endpoint http://127.0.0.1:4567 --stream tidegate-telemetry --wait 10\n' +
        '  device-sim audit --truth truth.jsonl --report out.json --endpoint http://127.0.0.1:4567 --stream tidegate-telemetry --wait 30\n' +
        '  device-sim audit --truth truth.jsonl --alarms-from mqtt --mqtt-url mqtt://127.0.0.1:1883 --listen 660   # started with the run',
    )
    .action(async (flags: AuditFlags) => setCode(await auditCommand(flags)));

  program
    .command('check-scenario <file>')
    .description('validate a scenario file and show what it would simulate')
    .action((file: string) => setCode(checkScenarioCommand(file)));

  program.addHelpText('after', '\nWithout a command, device-sim runs `run`: see device-sim run --help for its flags.');
  return program;
}
