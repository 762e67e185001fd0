/**
 * runSimulation: the programmatic entry point shared by the CLI, tests and benchmarks.
 *
 * Flow: resolve options (+ scenario) -> build devices and ledgers -> connect
 * the transport -> the engine publishes until count, duration, deadline or
 * abort -> wait (bounded) for outstanding acks -> close -> summary with the
 * per-device ledger.
 */
import { performance } from 'node:perf_hooks';
import { DeviceAnomalies } from './anomalies/inject.js';
import { TruthCollector, TruthWriter, type TruthSink } from './anomalies/truth.js';
import type { AnomalyKind } from './scenario/schema-anomalies.js';
import { Engine, type Counters, type StopReason } from './engine.js';
import { DeviceLedger, type Range } from './ledger.js';
import { SimDevice } from './model/device.js';
import type { ProgressSnapshot, QoS, SimulationOptions } from './options.js';
import { resolveOptions, type ResolvedOptions } from './plan.js';
import { appliesTo } from './faults/settings.js';
import type { LatencyPercentiles } from './stats.js';
import { MqttTransport } from './transport/mqtt.js';
import { SerialTransport } from './transport/serial.js';
import type { Transport } from './transport/types.js';
import { wireFor } from './wire.js';

export type { SimulationOptions, ProgressSnapshot, QoS } from './options.js';
export { OptionsError } from './options.js';
export { resolveOptions } from './plan.js';
export { ConnectError } from './transport/types.js';
export type { StopReason } from './engine.js';

export interface BootLedgerEntry {
  boot: string;
  /** Readings sent under this boot: seqs 1..sent. */
  sent: number;
  /** Acknowledged seqs (QoS 0 and serial: written), as ranges. */
  acked: Range[];
  /** Seqs the device sent twice on purpose (duplicates fault); omitted when none. */
  duplicated?: Range[];
}

export interface DeviceLedgerEntry {
  deviceId: string;
  sent: number;
  acked: number;
  /** Of the current boot; null when the device sent nothing. */
  firstSeq: number | null;
  lastSeq: number | null;
  boots: BootLedgerEntry[];
}

export interface FaultCounts {
  duplicatesSent: number;
  malformedSent: number;
  oversizeSent: number;
  noiseSent: number;
  extraErrors: number;
  reboots: number;
  storms: number;
  droppedConnections: number;
}

export interface AnomalyCounts {
  /** Episodes that changed (or silenced) at least one reading: the lines of the truth file. */
  episodes: number;
  byKind: Partial<Record<AnomalyKind, number>>;
  truthFile: string | null;
}

export interface SimulationSummary {
  url: string;
  transport: 'mqtt' | 'serial';
  scenario: string | null;
  qos: QoS;
  seed: number;
  deviceCount: number;
  connectionCount: number;
  /** Readings handed to the transport (fault extras are counted in `faults`). */
  sent: number;
  /** QoS>0: PUBACK/PUBCOMP received. QoS 0 and serial: written (no ack exists). */
  acked: number;
  /** sent - acked: publish errors plus publishes still unacknowledged when the run ended. */
  failed: number;
  publishErrors: number;
  unackedAtExit: number;
  connectionErrors: number;
  reconnects: number;
  /** Due readings that had to wait because an in-flight window was full. */
  deferred: number;
  /** From the first reading until the last ack (or drain timeout); excludes connecting. */
  durationMs: number;
  /** acked / duration. */
  ratePerSec: number;
  targetRatePerSec: number;
  /** null for QoS 0 and serial, which have no acknowledgements to time. */
  ackLatencyMs: LatencyPercentiles | null;
  stopReason: StopReason;
  startedAt: string;
  faults: FaultCounts;
  anomalies: AnomalyCounts;
  devices: DeviceLedgerEntry[];
}

function createTransport(o: ResolvedOptions): Transport {
  return o.transport.kind === 'mqtt' ? new MqttTransport(o.transport) : new SerialTransport(o.transport);
}

function ledgerEntries(ledgers: DeviceLedger[]): DeviceLedgerEntry[] {
  return ledgers.map((l) => {
    const cur = l.current;
    return {
      deviceId: l.deviceId,
      sent: l.sent,
      acked: l.acked,
      firstSeq: cur.sent > 0 ? 1 : null,
      lastSeq: cur.sent > 0 ? cur.sent : null,
      boots: l.boots.map((b) => ({
        boot: b.boot,
        sent: b.sent,
        acked: b.acked.toArray(),
        ...(b.duplicated.size > 0 ? { duplicated: b.duplicated.toArray() } : {}),
      })),
    };
  });
}

function faultCounts(k: Counters): FaultCounts {
  const { duplicatesSent, malformedSent, oversizeSent, noiseSent, extraErrors, reboots, storms, droppedConnections } = k;
  return { duplicatesSent, malformedSent, oversizeSent, noiseSent, extraErrors, reboots, storms, droppedConnections };
}

function anomalyCounts(anomalies: ReadonlyArray<DeviceAnomalies | undefined>, truthFile: string | undefined): AnomalyCounts {
  const byKind: Partial<Record<AnomalyKind, number>> = {};
  let episodes = 0;
  for (const a of anomalies) {
    for (const [kind, n] of a?.finished ?? []) {
      byKind[kind] = (byKind[kind] ?? 0) + n;
      episodes += n;
    }
  }
  return { episodes, byKind, truthFile: truthFile ?? null };
}

export async function runSimulation(opts: SimulationOptions, signal?: AbortSignal): Promise<SimulationSummary> {
  const o = resolveOptions(opts);
  const skew = o.faults.clockSkew;
  const devices = o.fleet.map((spec) => new SimDevice(spec, o.seed, o.replay, skew && appliesTo(skew.fleets, spec.fleet) ? skew : undefined));
  const ledgers = devices.map((d) => new DeviceLedger(d.deviceId, d.boot));
  const connOf = new Uint32Array(devices.length);
  for (let d = 0; d < devices.length; d++) connOf[d] = d % o.connections; // round-robin spread over connections
  const topics = devices.map((d) => o.topicTemplate.replaceAll('{deviceId}', d.deviceId));

  // Opened before connecting, so an unwritable path fails before any network traffic; a run that never
  // connects leaves an empty file: nothing was injected.
  const truthWriter = o.truthFile !== undefined ? new TruthWriter(o.truthFile) : undefined;
  const transport = createTransport(o);
  try {
    await transport.connect(signal);
  } catch (err) {
    truthWriter?.close();
    throw err;
  }
  const truth: TruthSink = truthWriter ?? new TruthCollector();
  const anomalies = devices.map((dev, i) => {
    const eps = o.anomalies.get(i);
    return eps ? new DeviceAnomalies(dev.deviceId, eps, dev.spec.fieldSet.fields, o.seed, truth) : undefined;
  });
  const engine = new Engine({ o, devices, ledgers, transport, wire: wireFor(o), connOf, topics, anomalies });
  const startedAt = new Date();

  let last = { at: 0, acked: 0, sent: 0 };
  const progress = (): void => {
    const now = engine.now();
    const k = engine.counters;
    const dt = now - last.at;
    const sendRate = dt > 0 ? ((k.sent - last.sent) * 1000) / dt : 0;
    const planned = engine.planned();
    const byTime = Number.isFinite(o.durationMs) ? Math.max(0, o.durationMs - now) : null;
    const byCount = Number.isFinite(o.count) && sendRate > 0 ? ((o.count - k.sent) * 1000) / sendRate : null;
    const snapshot: ProgressSnapshot = {
      elapsedMs: now,
      sent: k.sent,
      acked: k.acked,
      failed: k.publishErrors,
      inflight: transport.inflight,
      deferred: k.deferred,
      connectionErrors: transport.connectionErrors,
      connectedConnections: transport.connectedCount,
      connections: transport.connections,
      recentRatePerSec: dt > 0 ? ((k.acked - last.acked) * 1000) / dt : 0,
      plannedReadings: planned,
      errors: k.publishErrors + k.extraErrors + transport.connectionErrors,
      timeLeftMs: byTime !== null && byCount !== null ? Math.min(byTime, byCount) : (byTime ?? byCount),
    };
    last = { at: now, acked: k.acked, sent: k.sent };
    o.onProgress?.(snapshot);
  };
  const progressTimer = o.onProgress ? setInterval(progress, o.progressIntervalMs) : undefined;

  try {
    const stopReason = await engine.run(signal);
    // Before draining: a second Ctrl-C during the drain exits at once, and the truth must be complete by then.
    for (const a of anomalies) a?.closeAll();
    truthWriter?.close();
    const drained = await transport.whenIdle(o.drainTimeoutMs);
    const durationMs = performance.now() - engine.startMs;
    engine.closing = true;
    await transport.close(!drained);
    const k = engine.counters;
    return {
      url: o.url,
      transport: o.transport.kind,
      scenario: o.scenarioName ?? null,
      qos: o.qos,
      seed: o.seed,
      deviceCount: devices.length,
      connectionCount: o.connections,
      sent: k.sent,
      acked: k.acked,
      failed: k.sent - k.acked,
      publishErrors: k.publishErrors,
      unackedAtExit: k.sent - k.acked - k.publishErrors,
      connectionErrors: transport.connectionErrors,
      reconnects: transport.reconnects,
      deferred: k.deferred,
      durationMs: Math.round(durationMs),
      ratePerSec: durationMs > 0 ? Math.round((k.acked * 1000 * 10) / durationMs) / 10 : 0,
      targetRatePerSec: Math.round(o.totalRate * 1000) / 1000,
      ackLatencyMs: o.qos > 0 && o.transport.kind === 'mqtt' ? engine.latency.summary() : null,
      stopReason,
      startedAt: startedAt.toISOString(),
      faults: faultCounts(k),
      anomalies: anomalyCounts(anomalies, o.truthFile),
      devices: ledgerEntries(ledgers),
    };
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    truthWriter?.close();
  }
}
