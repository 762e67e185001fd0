/**
 * Simulator options: defaults, validation and conversion from CLI strings.
 *
 * Validation collects every problem at once (instead of failing on the first)
 * so a user fixing a long command line sees all mistakes in one go, and every
 * message says how to fix it. The CLI maps OptionsError to exit code 2.
 */

export type QoS = 0 | 1 | 2;

/** Live counters handed to SimulationOptions.onProgress. */
export interface ProgressSnapshot {
  elapsedMs: number;
  sent: number;
  acked: number;
  failed: number;
  inflight: number;
  deferred: number;
  connectionErrors: number;
  connectedConnections: number;
  connections: number;
  /** Acknowledged readings per second since the previous snapshot. */
  recentRatePerSec: number;
  /** Readings the run is expected to send (Infinity when only time-bounded by a deadline). */
  plannedReadings: number;
}

/** Programmatic input; everything is optional except a bound (durationSec and/or count). */
export interface SimulationOptions {
  url?: string;
  devices?: number;
  /** Readings per second per device (floats allowed, 1/60 = one a minute). */
  rate?: number;
  /** Readings per second for the whole fleet; alternative to `rate`. */
  totalRate?: number;
  durationSec?: number;
  /** Stop after this many readings in total. */
  count?: number;
  qos?: QoS;
  connections?: number;
  topicTemplate?: string;
  /** Namespace prepended to every device id and MQTT clientId (e.g. "lab1-"). */
  devicePrefix?: string;
  seed?: number;
  payloadBytes?: number;
  maxInflight?: number;
  connectTimeoutMs?: number;
  drainTimeoutMs?: number;
  tickMs?: number;
  progressIntervalMs?: number;
  onProgress?: (progress: ProgressSnapshot) => void;
}

export interface ResolvedOptions {
  url: string;
  devices: number;
  ratePerDevice: number;
  totalRate: number;
  /** Requested duration in ms, Infinity when only --count was given. */
  durationMs: number;
  /** Requested readings, Infinity when only --duration was given. */
  count: number;
  /**
   * Hard time limit. Equals durationMs when a duration was given; for count-only
   * runs it is derived from the rate so a stalled broker cannot make us wait forever.
   */
  deadlineMs: number;
  qos: QoS;
  connections: number;
  topicTemplate: string;
  devicePrefix: string;
  seed: number;
  payloadBytes: number;
  maxInflight: number;
  connectTimeoutMs: number;
  drainTimeoutMs: number;
  tickMs: number;
  progressIntervalMs: number;
  onProgress: ((progress: ProgressSnapshot) => void) | undefined;
}

export const DEFAULTS = {
  url: 'mqtt://127.0.0.1:1883',
  devices: 10,
  rate: 1,
  qos: 1 as QoS,
  maxConnections: 200,
  topicTemplate: 'devices/{deviceId}/telemetry',
  devicePrefix: '',
  payloadBytes: 0,
  maxInflight: 100,
  connectTimeoutMs: 10_000,
  drainTimeoutMs: 5_000,
  tickMs: 10,
  progressIntervalMs: 1_000,
} as const;

/** MQTT packet identifiers are 16 bit, so a connection cannot have more in flight. */
const MAX_INFLIGHT_LIMIT = 65_535;
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const MAX_DEVICES = 1_000_000;

export class OptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'OptionsError';
  }
}

function isPositive(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v) && v > 0;
}

function checkInt(problems: string[], flag: string, v: number | undefined, min: number, max: number, hint: string): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) {
    problems.push(`${flag} must be an integer from ${min} to ${max} (got ${String(v)}); ${hint}`);
  }
}

export function resolveOptions(input: SimulationOptions): ResolvedOptions {
  const problems: string[] = [];
  const url = input.url ?? DEFAULTS.url;
  try {
    const parsed = new URL(url);
    if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'].includes(parsed.protocol)) {
      problems.push(`--url must use mqtt://, mqtts://, ws:// or wss:// (got "${url}"); e.g. --url mqtt://127.0.0.1:1883`);
    }
  } catch {
    problems.push(`--url is not a valid URL (got "${url}"); e.g. --url mqtt://127.0.0.1:1883`);
  }

  const devices = input.devices ?? DEFAULTS.devices;
  checkInt(problems, '--devices', devices, 1, MAX_DEVICES, 'e.g. --devices 50');

  if (input.rate !== undefined && input.totalRate !== undefined) {
    problems.push('--rate (per device) and --total-rate (whole fleet) are alternatives; pass only one of them');
  }
  if (input.rate !== undefined && !isPositive(input.rate)) {
    problems.push(`--rate must be a positive number of readings per second per device (got ${String(input.rate)}); e.g. --rate 10, or --rate 0.0167 for one a minute`);
  }
  if (input.totalRate !== undefined && !isPositive(input.totalRate)) {
    problems.push(`--total-rate must be a positive number of readings per second for the fleet (got ${String(input.totalRate)}); e.g. --total-rate 30000`);
  }
  const validDevices = Number.isInteger(devices) && devices >= 1 ? devices : 1;
  const totalRate = input.totalRate ?? (input.rate ?? DEFAULTS.rate) * validDevices;
  const ratePerDevice = totalRate / validDevices;

  if (input.durationSec === undefined && input.count === undefined) {
    problems.push('the run must be bounded: pass --duration SECONDS and/or --count READINGS, e.g. --duration 60');
  }
  if (input.durationSec !== undefined && !isPositive(input.durationSec)) {
    problems.push(`--duration must be a positive number of seconds (got ${String(input.durationSec)}); e.g. --duration 60`);
  }
  checkInt(problems, '--count', input.count, 1, Number.MAX_SAFE_INTEGER, 'e.g. --count 2000');

  const qos = input.qos ?? DEFAULTS.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    problems.push(`--qos must be 0, 1 or 2 (got ${String(qos)})`);
  }

  const connections = input.connections ?? Math.min(validDevices, DEFAULTS.maxConnections);
  if (!Number.isInteger(connections) || connections < 1 || connections > validDevices) {
    problems.push(`--connections must be an integer from 1 to the number of devices (${validDevices}) (got ${String(connections)}); each connection carries at least one device`);
  }

  const topicTemplate = input.topicTemplate ?? DEFAULTS.topicTemplate;
  if (!topicTemplate.includes('{deviceId}')) {
    problems.push(`--topic-template must contain {deviceId} so each device publishes to its own topic (got "${topicTemplate}"); e.g. 'devices/{deviceId}/telemetry'`);
  }
  if (/[+#\0]/.test(topicTemplate)) {
    problems.push(`--topic-template must not contain the MQTT wildcards + or # (got "${topicTemplate}")`);
  }

  const devicePrefix = input.devicePrefix ?? DEFAULTS.devicePrefix;
  if (/[/+#\0\s]/.test(devicePrefix)) {
    problems.push(`--device-prefix must not contain /, +, # or whitespace, it becomes part of a topic level (got "${devicePrefix}"); e.g. --device-prefix lab1-`);
  }

  checkInt(problems, '--seed', input.seed, 0, 2 ** 32 - 1, 'e.g. --seed 42');
  checkInt(problems, '--payload-bytes', input.payloadBytes, 0, MAX_PAYLOAD_BYTES, 'e.g. --payload-bytes 512');
  checkInt(problems, '--max-inflight', input.maxInflight, 1, MAX_INFLIGHT_LIMIT, 'e.g. --max-inflight 100');
  if (input.connectTimeoutMs !== undefined && !isPositive(input.connectTimeoutMs)) {
    problems.push(`--connect-timeout must be a positive number of seconds (got ${String(input.connectTimeoutMs / 1000)}); e.g. --connect-timeout 10`);
  }
  if (input.drainTimeoutMs !== undefined && !(Number.isFinite(input.drainTimeoutMs) && input.drainTimeoutMs >= 0)) {
    problems.push(`--drain-timeout must be zero or a positive number of seconds (got ${String(input.drainTimeoutMs / 1000)}); e.g. --drain-timeout 5`);
  }
  if (input.tickMs !== undefined && !(isPositive(input.tickMs) && input.tickMs <= 1000)) {
    problems.push(`tickMs must be a positive number of milliseconds up to 1000 (got ${String(input.tickMs)})`);
  }

  if (problems.length > 0) throw new OptionsError(problems);

  const durationMs = input.durationSec !== undefined ? input.durationSec * 1000 : Infinity;
  const count = input.count ?? Infinity;
  // Count-only runs: allow twice the nominal time plus 30 s of slack before giving up.
  const deadlineMs = Number.isFinite(durationMs) ? durationMs : Math.ceil((count / totalRate) * 2000) + 30_000;

  return {
    url,
    devices,
    ratePerDevice,
    totalRate,
    durationMs,
    count,
    deadlineMs,
    qos,
    connections,
    topicTemplate,
    devicePrefix,
    // A random seed is still reported in the summary so any run can be replayed.
    seed: input.seed ?? Math.floor(Math.random() * 2 ** 32),
    payloadBytes: input.payloadBytes ?? DEFAULTS.payloadBytes,
    maxInflight: input.maxInflight ?? DEFAULTS.maxInflight,
    connectTimeoutMs: input.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    drainTimeoutMs: input.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    tickMs: input.tickMs ?? DEFAULTS.tickMs,
    progressIntervalMs: input.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
    onProgress: input.onProgress,
  };
}

/** Raw commander values: strings as typed by the user (undefined when absent). */
export interface CliValues {
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
}

/**
 * Converts CLI strings to SimulationOptions. Number() rather than parseFloat so
 * "10abc" is rejected instead of silently read as 10.
 */
export function optionsFromCli(values: CliValues): SimulationOptions {
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
  const opts: SimulationOptions = {
    url: values.url,
    devices: num('--devices', values.devices, '50'),
    rate: num('--rate', values.rate, '10'),
    totalRate: num('--total-rate', values.totalRate, '30000'),
    durationSec: num('--duration', values.duration, '60'),
    count: num('--count', values.count, '2000'),
    qos: num('--qos', values.qos, '1') as QoS | undefined,
    connections: num('--connections', values.connections, '20'),
    topicTemplate: values.topicTemplate,
    devicePrefix: values.devicePrefix,
    seed: num('--seed', values.seed, '42'),
    payloadBytes: num('--payload-bytes', values.payloadBytes, '512'),
    maxInflight: num('--max-inflight', values.maxInflight, '100'),
    connectTimeoutMs: seconds('--connect-timeout', values.connectTimeout, '10'),
    drainTimeoutMs: seconds('--drain-timeout', values.drainTimeout, '5'),
  };
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
