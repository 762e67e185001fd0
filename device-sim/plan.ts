/**
 * resolveOptions: merges options (CLI flags or API) over a scenario over the
 * defaults into one validated plan. Without a scenario, the flags describe the
 * classic fleet: --devices sensors cycling th, co2, occ (th-0001, co2-0002,
 * occ-0003, ...) sharing --rate/--total-rate, which is the same machinery a
 * scenario uses. Every problem is reported at once in an OptionsError.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ReplayLookup } from './model/generators.js';
import { placeEpisodes, type Episode } from './anomalies/plan.js';
import { resolveFaults, type FaultSettings } from './faults/settings.js';
import { checkFlags, checkInt, checkTopicTemplate, checkUrl, DEFAULTS, MAX_INFLIGHT_LIMIT, OptionsError, type ProgressSnapshot, type QoS, type SimulationOptions } from './options.js';
import type { ScenarioProblem } from './scenario/errors.js';
import { expandFleets, fleetName, type DeviceSpec } from './scenario/fleet.js';
import { loadScenarioFile, type Scenario } from './scenario/load.js';
import type { FleetDoc, Framing } from './scenario/schema.js';
import { ms } from './scenario/units.js';

export interface MqttPlan {
  kind: 'mqtt';
  url: string;
  qos: QoS;
  protocolVersion: 4 | 5;
  clean: boolean;
  sessionExpirySec: number | undefined;
  connections: number;
  /** One client id per connection. */
  clientIds: string[];
  username: string | undefined;
  password: string | undefined;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string } | undefined;
  maxInflight: number;
  connectTimeoutMs: number;
  reconnectPeriodMs: number;
  keepaliveSec: number;
}

export interface SerialPlan {
  kind: 'serial';
  path: string;
  baudRate: number;
  framing: Framing;
  lineEnding: '\n' | '\r\n';
  connectTimeoutMs: number;
}

export interface ResolvedOptions {
  /** MQTT URL, or serial://PATH. */
  url: string;
  devices: number;
  ratePerDevice: number;
  totalRate: number;
  /** Requested duration in ms, Infinity when only a count was given. */
  durationMs: number;
  /** Requested readings, Infinity when only a duration was given. */
  count: number;
  /** Hard time limit; for count-only runs derived from the rate so a stalled broker cannot make us wait forever. */
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
  scenarioName: string | undefined;
  transport: MqttPlan | SerialPlan;
  fleet: DeviceSpec[];
  fleetNames: string[];
  faults: FaultSettings;
  /** Anomaly episodes by device index (devices without any are absent). */
  anomalies: Map<number, Episode[]>;
  /** Where the ground truth of the anomalies goes (JSON lines), if anywhere. */
  truthFile: string | undefined;
  /** Rows of the scenario's replay files. */
  replay: ReplayLookup;
}

const NO_REPLAY: ReplayLookup = (file) => {
  throw new Error(`replay file ${file} is not part of a loaded scenario`);
};

/** The classic fleet of the flags-only CLI. */
function classicFleet(devices: number): FleetDoc {
  const width = Math.max(4, String(devices).length);
  return { id: `{profile}-{i:0${width}}`, count: devices, start: 1, profile: ['th', 'co2', 'occ'] };
}

function readPem(file: string, baseDir: string, flag: string, problems: string[]): Buffer | undefined {
  const full = path.resolve(baseDir, file);
  try {
    return readFileSync(full);
  } catch (err) {
    problems.push(`${flag}: cannot read ${full}: ${(err as Error).message}`);
    return undefined;
  }
}

function mqttPlan(input: SimulationOptions, scenario: Scenario | undefined, devices: DeviceSpec[], prefix: string, problems: string[]): MqttPlan {
  const doc = scenario?.doc.transport?.mqtt;
  const url = input.url ?? doc?.url ?? DEFAULTS.url;
  if (input.url === undefined) checkUrl(problems, url);
  const qos = input.qos ?? doc?.qos ?? DEFAULTS.qos;
  const version = input.mqttVersion ?? doc?.version;
  const protocolVersion = version === '5' || version === 5 ? 5 : 4;
  const clean = input.clean ?? doc?.clean ?? true;
  const expiry = input.sessionExpirySec ?? (doc?.sessionExpiry !== undefined ? Math.round(ms(doc.sessionExpiry) / 1000) : undefined);
  // MQTT 5 ends a session at disconnect unless it has an expiry; "persistent" without one would not persist.
  const sessionExpirySec = protocolVersion === 5 && !clean ? (expiry ?? 3600) : expiry;

  const conn = input.connections ?? doc?.connections;
  const connections = conn === 'per-device' ? devices.length : (conn ?? Math.min(devices.length, DEFAULTS.maxConnections));
  if (devices.length > 0 && (!Number.isInteger(connections) || connections < 1 || connections > devices.length)) {
    problems.push(`--connections must be an integer from 1 to the number of devices (${devices.length}) (got ${String(connections)}); each connection carries at least one device`);
  }
  // One connection per device: the device id is the client id. Shared and clean: a random suffix, so two
  // simulators on one broker never take over each other's connections. Persistent: stable ids, or the session is lost.
  const runToken = randomBytes(4).toString('hex');
  const clientIds = Array.from({ length: Math.max(0, Math.min(connections, devices.length)) }, (_, i) =>
    connections === devices.length && conn === 'per-device' ? (devices[i] as DeviceSpec).deviceId : `${prefix}sim-${i}${clean ? `-${runToken}` : ''}`,
  );

  let password = input.password ?? doc?.password;
  if (password === undefined && doc?.passwordEnv) {
    password = process.env[doc.passwordEnv];
    if (password === undefined) problems.push(`transport.mqtt.passwordEnv: environment variable ${doc.passwordEnv} is not set`);
  }
  const files = input.tls ?? doc?.tls;
  const baseDir = input.tls ? process.cwd() : (scenario?.baseDir ?? process.cwd());
  let tls: MqttPlan['tls'];
  if (files) {
    tls = { rejectUnauthorized: files.rejectUnauthorized ?? true };
    if (files.ca) tls.ca = readPem(files.ca, baseDir, '--ca', problems);
    if (files.cert) tls.cert = readPem(files.cert, baseDir, '--cert', problems);
    if (files.key) tls.key = readPem(files.key, baseDir, '--key', problems);
    if (doc?.tls?.servername && !input.tls) tls.servername = doc.tls.servername;
    if (/^(mqtt|tcp|ws):/.test(url)) problems.push(`TLS files are set but the URL ${url} is not encrypted; use mqtts:// (or wss://)`);
  }
  const maxInflight = input.maxInflight ?? doc?.maxInflight ?? DEFAULTS.maxInflight;
  checkInt(problems, '--max-inflight', maxInflight, 1, MAX_INFLIGHT_LIMIT, 'e.g. --max-inflight 100');
  return {
    kind: 'mqtt',
    url,
    qos,
    protocolVersion,
    clean,
    sessionExpirySec,
    connections,
    clientIds,
    username: input.username ?? doc?.username,
    password,
    tls,
    maxInflight,
    connectTimeoutMs: input.connectTimeoutMs ?? (doc?.connectTimeout !== undefined ? ms(doc.connectTimeout) : DEFAULTS.connectTimeoutMs),
    reconnectPeriodMs: input.reconnectPeriodMs ?? (doc?.reconnectPeriod !== undefined ? ms(doc.reconnectPeriod) : DEFAULTS.reconnectPeriodMs),
    keepaliveSec: doc?.keepalive !== undefined ? Math.round(ms(doc.keepalive) / 1000) : DEFAULTS.keepaliveSec,
  };
}

function serialPlan(input: SimulationOptions, scenario: Scenario | undefined, problems: string[]): SerialPlan {
  const doc = scenario?.doc.transport?.serial;
  const portPath = input.serial?.path ?? doc?.path ?? '';
  if (!portPath) problems.push('no serial port: pass --serial PATH or set transport.serial.path (for a test pair: socat -d -d pty,raw,echo=0,link=/tmp/ttyA pty,raw,echo=0,link=/tmp/ttyB)');
  return {
    kind: 'serial',
    path: portPath,
    baudRate: input.serial?.baudRate ?? doc?.baudRate ?? DEFAULTS.baudRate,
    framing: input.serial?.framing ?? doc?.framing ?? 'jsonl',
    lineEnding: (input.serial?.lineEnding ?? doc?.lineEnding) === 'crlf' ? '\r\n' : '\n',
    connectTimeoutMs: input.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
  };
}

export function resolveOptions(input: SimulationOptions): ResolvedOptions {
  const problems: string[] = [];
  checkFlags(input, problems);
  const scenario = typeof input.scenario === 'string' ? loadScenarioFile(input.scenario) : input.scenario;
  const run = scenario?.doc.run;

  const prefix = input.devicePrefix ?? run?.devicePrefix ?? DEFAULTS.devicePrefix;
  const classicDevices = input.devices ?? DEFAULTS.devices;
  const fleets = scenario ? scenario.doc.fleets : [classicFleet(Number.isInteger(classicDevices) && classicDevices >= 1 ? classicDevices : 1)];
  const fleetProblems: ScenarioProblem[] = [];
  const validRate = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined);
  const devices = expandFleets(fleets, scenario?.doc.profiles ?? {}, {
    devices: scenario ? input.devices : undefined,
    ratePerDevice: validRate(input.rate),
    // Classic fleet: the default is 1 reading per second per device.
    totalRate: validRate(input.totalRate) ?? (scenario || input.rate !== undefined ? undefined : DEFAULTS.rate * fleets[0]!.count),
    prefix,
  }, fleetProblems);
  for (const p of fleetProblems) problems.push(`${scenario ? `${scenario.source}: ` : ''}${p.path}: ${p.message}`);
  // Exact when the flags set it (a sum of per-device rates would pick up rounding noise).
  const perDevice = validRate(input.rate);
  const flagRate = validRate(input.totalRate) ?? (perDevice !== undefined ? perDevice * devices.length : undefined);
  const totalRate = flagRate ?? (scenario ? devices.reduce((sum, d) => sum + 1000 / d.intervalMs, 0) : DEFAULTS.rate * devices.length);

  const durationMs = input.durationSec !== undefined ? input.durationSec * 1000 : run?.duration !== undefined ? ms(run.duration) : Infinity;
  const count = input.count ?? run?.count ?? Infinity;
  if (durationMs === Infinity && count === Infinity && input.durationSec === undefined) {
    problems.push('the run must be bounded: pass --duration SECONDS and/or --count READINGS, e.g. --duration 60 (or set run.duration in the scenario)');
  }

  const useSerial = input.serial !== undefined || (input.url === undefined && scenario?.doc.transport?.serial !== undefined);
  const transport = useSerial ? serialPlan(input, scenario, problems) : mqttPlan(input, scenario, devices, prefix, problems);
  const topicTemplate = input.topicTemplate ?? scenario?.doc.transport?.mqtt?.topic ?? DEFAULTS.topicTemplate;
  if (input.topicTemplate === undefined) checkTopicTemplate(problems, topicTemplate);

  const fleetNames = fleets.map(fleetName);
  const faults = resolveFaults(scenario?.doc.faults, fleetNames);
  if (transport.kind === 'serial' && faults.storms.length > 0) problems.push('faults.disconnects: disconnect storms apply to MQTT connections, not a serial port');
  if (transport.kind === 'mqtt' && faults.noise) problems.push('faults.noise: line noise applies to serial ports only');

  // A random seed is still reported in the summary so any run can be replayed.
  const seed = input.seed ?? run?.seed ?? Math.floor(Math.random() * 2 ** 32);
  const anomalyDocs = scenario?.doc.anomalies ?? [];
  const anomalies = anomalyDocs.length > 0 ? placeEpisodes(anomalyDocs, devices, fleetNames, seed, durationMs, problems, prefix) : new Map<number, Episode[]>();

  if (problems.length > 0) throw new OptionsError(problems);

  // Count-only runs: allow twice the nominal time plus 30 s of slack before giving up.
  const deadlineMs = Number.isFinite(durationMs) ? durationMs : Math.ceil((count / totalRate) * 2000) + 30_000;
  const drain = run?.drainTimeout !== undefined ? ms(run.drainTimeout) : DEFAULTS.drainTimeoutMs;
  return {
    url: transport.kind === 'mqtt' ? transport.url : `serial://${transport.path}`,
    devices: devices.length,
    ratePerDevice: totalRate / devices.length,
    totalRate,
    durationMs,
    count,
    deadlineMs,
    qos: transport.kind === 'mqtt' ? transport.qos : 0,
    connections: transport.kind === 'mqtt' ? transport.connections : 1,
    topicTemplate,
    devicePrefix: prefix,
    seed,
    payloadBytes: input.payloadBytes ?? run?.payloadBytes ?? DEFAULTS.payloadBytes,
    maxInflight: transport.kind === 'mqtt' ? transport.maxInflight : 1,
    connectTimeoutMs: transport.connectTimeoutMs,
    drainTimeoutMs: input.drainTimeoutMs ?? drain,
    tickMs: input.tickMs ?? DEFAULTS.tickMs,
    progressIntervalMs: input.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
    onProgress: input.onProgress,
    scenarioName: scenario ? (scenario.doc.name ?? scenario.source) : undefined,
    transport,
    fleet: devices,
    fleetNames,
    faults,
    anomalies,
    truthFile: input.truthFile,
    replay: scenario?.replay ?? NO_REPLAY,
  };
}
