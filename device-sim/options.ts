/**
 * Simulator options: the programmatic input, defaults, and the checks that
 * need nothing but the options themselves. plan.ts merges them with a
 * scenario. Validation collects every problem at once (instead of failing on
 * the first) so a user fixing a long command line sees all mistakes in one go,
 * and every message says how to fix it. The CLI maps OptionsError to exit 2.
 */
import type { Scenario } from './scenario/load.js';
import type { Framing } from './scenario/schema.js';

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
  /** Publish errors plus connection errors so far. */
  errors: number;
  /** Estimated time until the run stops sending (null when unknown). */
  timeLeftMs: number | null;
}

export interface TlsFiles {
  /** PEM files. */
  ca?: string;
  cert?: string;
  key?: string;
  /** false accepts any server certificate (test brokers only). */
  rejectUnauthorized?: boolean;
}

export interface SerialOptions {
  path: string;
  baudRate?: number;
  framing?: Framing;
  lineEnding?: 'lf' | 'crlf';
}

/** Programmatic input; everything is optional except a bound (durationSec and/or count, here or in the scenario). */
export interface SimulationOptions {
  /** A scenario (loaded with loadScenarioFile/parseScenario) or the path of a scenario file. Options below override it. */
  scenario?: Scenario | string;
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
  /** A number of shared connections, or one per device. */
  connections?: number | 'per-device';
  topicTemplate?: string;
  /** Namespace prepended to every device id and MQTT clientId (e.g. "lab1-"). */
  devicePrefix?: string;
  seed?: number;
  payloadBytes?: number;
  maxInflight?: number;
  connectTimeoutMs?: number;
  drainTimeoutMs?: number;
  /** MQTT protocol: 3.1.1 or 5. */
  mqttVersion?: '3.1.1' | '5';
  /** false: persistent sessions with stable client ids. */
  clean?: boolean;
  sessionExpirySec?: number;
  username?: string;
  password?: string;
  tls?: TlsFiles;
  reconnectPeriodMs?: number;
  /** Publish over a serial port instead of MQTT. */
  serial?: SerialOptions;
  /** Write the ground truth of the scenario's anomalies to this file (JSON lines, one per episode). */
  truthFile?: string;
  tickMs?: number;
  progressIntervalMs?: number;
  onProgress?: (progress: ProgressSnapshot) => void;
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
  reconnectPeriodMs: 1_000,
  keepaliveSec: 60,
  baudRate: 115_200,
  tickMs: 10,
  progressIntervalMs: 1_000,
} as const;

/** MQTT packet identifiers are 16 bit, so a connection cannot have more in flight. */
export const MAX_INFLIGHT_LIMIT = 65_535;
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
export const MAX_DEVICES = 1_000_000;

export class OptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'OptionsError';
  }
}

export function isPositive(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v) && v > 0;
}

export function checkInt(problems: string[], flag: string, v: number | undefined, min: number, max: number, hint: string): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) {
    problems.push(`${flag} must be an integer from ${min} to ${max} (got ${String(v)}); ${hint}`);
  }
}

export function checkUrl(problems: string[], url: string): void {
  try {
    const parsed = new URL(url);
    if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'].includes(parsed.protocol)) {
      problems.push(`--url must use mqtt://, mqtts://, ws:// or wss:// (got "${url}"); e.g. --url mqtt://127.0.0.1:1883`);
    }
  } catch {
    problems.push(`--url is not a valid URL (got "${url}"); e.g. --url mqtt://127.0.0.1:1883`);
  }
}

export function checkTopicTemplate(problems: string[], topicTemplate: string): void {
  if (!topicTemplate.includes('{deviceId}')) {
    problems.push(`--topic-template must contain {deviceId} so each device publishes to its own topic (got "${topicTemplate}"); e.g. 'devices/{deviceId}/telemetry'`);
  }
  if (/[+#\0]/.test(topicTemplate)) {
    problems.push(`--topic-template must not contain the MQTT wildcards + or # (got "${topicTemplate}")`);
  }
}

/** Checks of options that do not depend on the scenario. */
export function checkFlags(input: SimulationOptions, problems: string[]): void {
  if (input.url !== undefined) checkUrl(problems, input.url);
  if (input.url !== undefined && input.serial !== undefined) {
    problems.push('--url (MQTT) and --serial (a serial port) select different transports; pass only one of them');
  }
  checkInt(problems, '--devices', input.devices, 1, MAX_DEVICES, 'e.g. --devices 50');
  if (input.rate !== undefined && input.totalRate !== undefined) {
    problems.push('--rate (per device) and --total-rate (whole fleet) are alternatives; pass only one of them');
  }
  if (input.rate !== undefined && !isPositive(input.rate)) {
    problems.push(`--rate must be a positive number of readings per second per device (got ${String(input.rate)}); e.g. --rate 10, or --rate 0.0167 for one a minute`);
  }
  if (input.totalRate !== undefined && !isPositive(input.totalRate)) {
    problems.push(`--total-rate must be a positive number of readings per second for the fleet (got ${String(input.totalRate)}); e.g. --total-rate 30000`);
  }
  if (input.durationSec !== undefined && !isPositive(input.durationSec)) {
    problems.push(`--duration must be a positive number of seconds (got ${String(input.durationSec)}); e.g. --duration 60`);
  }
  checkInt(problems, '--count', input.count, 1, Number.MAX_SAFE_INTEGER, 'e.g. --count 2000');
  if (input.qos !== undefined && input.qos !== 0 && input.qos !== 1 && input.qos !== 2) {
    problems.push(`--qos must be 0, 1 or 2 (got ${String(input.qos)})`);
  }
  if (input.topicTemplate !== undefined) checkTopicTemplate(problems, input.topicTemplate);
  if (input.devicePrefix !== undefined && /[/+#\0\s]/.test(input.devicePrefix)) {
    problems.push(`--device-prefix must not contain /, +, # or whitespace, it becomes part of a topic level (got "${input.devicePrefix}"); e.g. --device-prefix lab1-`);
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
  if (input.reconnectPeriodMs !== undefined && !(Number.isFinite(input.reconnectPeriodMs) && input.reconnectPeriodMs >= 0)) {
    problems.push(`--reconnect-period must be zero or a positive number of seconds (got ${String(input.reconnectPeriodMs / 1000)})`);
  }
  if (input.sessionExpirySec !== undefined && !(Number.isInteger(input.sessionExpirySec) && input.sessionExpirySec >= 0 && input.sessionExpirySec <= 0xffffffff)) {
    problems.push(`--session-expiry must be a whole number of seconds from 0 to 4294967295 (got ${String(input.sessionExpirySec)})`);
  }
  if (input.mqttVersion !== undefined && input.mqttVersion !== '3.1.1' && input.mqttVersion !== '5') {
    problems.push(`--mqtt-version must be 3.1.1 or 5 (got ${String(input.mqttVersion)})`);
  }
  if (input.serial?.baudRate !== undefined) checkInt(problems, '--baud', input.serial.baudRate, 1, 4_000_000, 'e.g. --baud 115200');
  if (input.serial?.framing !== undefined && !['jsonl', 'csv', 'kv'].includes(input.serial.framing)) {
    problems.push(`--framing must be jsonl, csv or kv (got "${input.serial.framing}")`);
  }
  if (input.tickMs !== undefined && !(isPositive(input.tickMs) && input.tickMs <= 1000)) {
    problems.push(`tickMs must be a positive number of milliseconds up to 1000 (got ${String(input.tickMs)})`);
  }
}
