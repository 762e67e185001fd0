/**
 * `device-sim run` flags: their definitions (shared by the help text and the
 * parser) and the conversion from strings to SimulationOptions. Number()
 * rather than parseFloat, so "10abc" is rejected instead of read as 10.
 */
import type { Command } from 'commander';
import { DEFAULTS, OptionsError, type QoS, type SimulationOptions } from '../options.js';
import { resolveOptions } from '../plan.js';
import type { Framing } from '../scenario/schema.js';

export interface CliValues {
  scenario?: string;
  url?: string;
  devices?: string;
  rate?: string;
  totalRate?: string;
  duration?: string;
  count?: string;
  qos?: string;
  connections?: string;
  topicTemplate?: string;
  devicePrefix?: string;
  seed?: string;
  payloadBytes?: string;
  maxInflight?: string;
  connectTimeout?: string;
  drainTimeout?: string;
  mqttVersion?: string;
  persistentSession?: boolean;
  sessionExpiry?: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  reconnectPeriod?: string;
  serial?: string;
  baud?: string;
  framing?: string;
  lineEnding?: string;
  truth?: string;
}

export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--scenario <file>', 'a scenario file (YAML): fleets, profiles, transport, faults; the flags below override it')
    .option('--devices <n>', `number of simulated devices (default: ${DEFAULTS.devices}; with a scenario: its single fleet's size)`)
    .option('--rate <perSec>', `readings per second PER DEVICE, floats allowed, 0.0167 = one a minute (default: ${DEFAULTS.rate})`)
    .option('--total-rate <perSec>', 'readings per second for the whole fleet (instead of --rate)')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--count <n>', 'stop after this many readings in total (with or instead of --duration)')
    .option('--url <url>', `MQTT broker URL, mqtt:// or mqtts:// (default: ${DEFAULTS.url})`)
    .option('--qos <0|1|2>', `MQTT QoS for publishes (default: ${DEFAULTS.qos})`)
    .option('--connections <n|per-device>', `MQTT connections, devices spread round-robin (default: one per device, at most ${DEFAULTS.maxConnections})`)
    .option('--topic-template <template>', `topic per device (default: '${DEFAULTS.topicTemplate}')`)
    .option('--device-prefix <prefix>', 'namespace prepended to device ids and client ids, e.g. lab1- gives lab1-th-0001 (default: none)')
    .option('--seed <n>', 'seed for values, faults and boot ids (default: random, printed in the summary)')
    .option('--payload-bytes <n>', 'pad each reading with a "pad" field to exactly n bytes (benchmarks)')
    .option('--max-inflight <n>', `unacknowledged publishes per connection, QoS>0 (default: ${DEFAULTS.maxInflight})`)
    .option('--connect-timeout <seconds>', `give up when the broker is unreachable this long (default: ${DEFAULTS.connectTimeoutMs / 1000})`)
    .option('--drain-timeout <seconds>', `wait this long for outstanding acks at the end (default: ${DEFAULTS.drainTimeoutMs / 1000})`)
    .option('--mqtt-version <3.1.1|5>', 'MQTT protocol version (default: 3.1.1)')
    .option('--persistent-session', 'clean=false: stable client ids, the broker keeps the session across reconnects')
    .option('--session-expiry <seconds>', 'MQTT 5 session expiry for persistent sessions (default: 3600)')
    .option('--username <name>', 'MQTT username')
    .option('--password <secret>', 'MQTT password (better: the DEVICE_SIM_PASSWORD environment variable, not visible in ps)')
    .option('--ca <file>', 'CA certificate (PEM) to verify the broker, for mqtts://')
    .option('--cert <file>', 'client certificate (PEM), with --key')
    .option('--key <file>', 'client private key (PEM), with --cert')
    .option('--insecure', 'accept any broker certificate (test brokers only)')
    .option('--reconnect-period <seconds>', `wait between reconnect attempts (default: ${DEFAULTS.reconnectPeriodMs / 1000})`)
    .option('--serial <path>', 'write lines to this serial port instead of MQTT (e.g. one end of a socat pty pair)')
    .option('--baud <n>', `serial baud rate (default: ${DEFAULTS.baudRate})`)
    .option('--framing <jsonl|csv|kv>', 'serial line format (default: jsonl)')
    .option('--line-ending <lf|crlf>', 'serial line ending (default: lf)')
    .option('--truth <file>', "write the ground truth of the scenario's anomalies (one JSON line per injected episode), for `device-sim audit --truth`")
    .option('--report <file>', 'write the summary plus the per-device ledger (acknowledged seq ranges) to a JSON file, for `device-sim audit`')
    .option('--json', 'print the summary as one JSON line instead of text')
    .option('--no-progress', 'no progress line while running');
}

export function optionsFromCli(values: CliValues, env: NodeJS.ProcessEnv = {}): SimulationOptions {
  const problems: string[] = [];
  const num = (flag: string, raw: string | undefined, example: string): number | undefined => {
    if (raw === undefined) return undefined;
    const v = raw.trim() === '' ? NaN : Number(raw);
    if (Number.isNaN(v)) {
      problems.push(`${flag} expects a number (got "${raw}"); e.g. ${flag} ${example}`);
      return undefined;
    }
    return v;
  };
  const seconds = (flag: string, raw: string | undefined, example: string): number | undefined => {
    const v = num(flag, raw, example);
    return v === undefined ? undefined : v * 1000;
  };
  const tls =
    values.ca || values.cert || values.key || values.insecure
      ? { ca: values.ca, cert: values.cert, key: values.key, rejectUnauthorized: values.insecure ? false : undefined }
      : undefined;
  if ((values.cert === undefined) !== (values.key === undefined)) problems.push('--cert and --key go together: a client certificate needs its private key');
  if (values.lineEnding !== undefined && values.lineEnding !== 'lf' && values.lineEnding !== 'crlf') {
    problems.push(`--line-ending must be lf or crlf (got "${values.lineEnding}")`);
  }
  const serialOnly = values.baud ?? values.framing ?? values.lineEnding;
  if (serialOnly !== undefined && values.serial === undefined && values.scenario === undefined) {
    problems.push('--baud, --framing and --line-ending apply to a serial port; add --serial PATH');
  }
  const opts: SimulationOptions = {
    scenario: values.scenario,
    url: values.url,
    devices: num('--devices', values.devices, '50'),
    rate: num('--rate', values.rate, '10'),
    totalRate: num('--total-rate', values.totalRate, '30000'),
    durationSec: num('--duration', values.duration, '60'),
    count: num('--count', values.count, '2000'),
    qos: num('--qos', values.qos, '1') as QoS | undefined,
    connections: values.connections === 'per-device' ? 'per-device' : num('--connections', values.connections, '20 (or per-device)'),
    topicTemplate: values.topicTemplate,
    devicePrefix: values.devicePrefix,
    seed: num('--seed', values.seed, '42'),
    payloadBytes: num('--payload-bytes', values.payloadBytes, '512'),
    maxInflight: num('--max-inflight', values.maxInflight, '100'),
    connectTimeoutMs: seconds('--connect-timeout', values.connectTimeout, '10'),
    drainTimeoutMs: seconds('--drain-timeout', values.drainTimeout, '5'),
    mqttVersion: values.mqttVersion as SimulationOptions['mqttVersion'],
    clean: values.persistentSession ? false : undefined,
    sessionExpirySec: num('--session-expiry', values.sessionExpiry, '3600'),
    username: values.username,
    password: values.password ?? env.DEVICE_SIM_PASSWORD,
    tls: tls && (Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as SimulationOptions['tls']),
    reconnectPeriodMs: seconds('--reconnect-period', values.reconnectPeriod, '1'),
    truthFile: values.truth,
    serial: values.serial === undefined ? undefined : {
      path: values.serial,
      baudRate: num('--baud', values.baud, '115200'),
      framing: values.framing as Framing | undefined,
      lineEnding: values.lineEnding as 'lf' | 'crlf' | undefined,
    },
  };
  if (opts.serial) opts.serial = Object.fromEntries(Object.entries(opts.serial).filter(([, v]) => v !== undefined)) as SimulationOptions['serial'];
  // Drop absent keys so resolveOptions applies its defaults.
  const result = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as SimulationOptions;
  if (problems.length > 0) {
    // Also report semantic problems of the flags that did parse, so the user sees
    // everything at once, minus follow-ups of the unparseable flags themselves.
    const badFlags = problems.map((p) => p.split(' ')[0] as string);
    const unbounded = badFlags.includes('--duration') || badFlags.includes('--count');
    try {
      resolveOptions({ ...result, ...(unbounded ? { count: 1 } : {}) });
    } catch (err) {
      if (!(err instanceof OptionsError)) throw err;
      problems.push(...err.problems.filter((p) => !badFlags.some((f) => p.startsWith(`${f} `))));
    }
    throw new OptionsError(problems);
  }
  return result;
}
