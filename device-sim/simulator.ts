/**
 * runSimulation: the programmatic entry point shared by the CLI, tests and benchmarks.
 *
 * Flow: validate options -> connect all MQTT connections -> one ticker emits the
 * readings the token bucket says are due, round-robin over devices -> on count,
 * duration, deadline or abort: stop publishing, wait (bounded) for outstanding
 * acks -> close -> summary with a per-device ledger.
 */
import { performance } from 'node:perf_hooks';
import { resolveOptions, type ProgressSnapshot, type QoS, type SimulationOptions } from './options.js';
import { createDeviceReadings, encodeReading, type DeviceReadings } from './readings.js';
import { TokenScheduler, type StopReason } from './scheduler.js';
import { LatencyHistogram, type LatencyPercentiles } from './stats.js';
import { MqttTransport } from './transport-mqtt.js';

export type { SimulationOptions, ProgressSnapshot, QoS } from './options.js';
export { OptionsError } from './options.js';
export { ConnectError } from './transport-mqtt.js';

export interface DeviceLedgerEntry {
  deviceId: string;
  sent: number;
  acked: number;
  /** null when the device sent nothing. */
  firstSeq: number | null;
  lastSeq: number | null;
}

export interface SimulationSummary {
  url: string;
  qos: QoS;
  seed: number;
  deviceCount: number;
  connectionCount: number;
  /** Readings handed to the MQTT client. */
  sent: number;
  /** QoS>0: PUBACK/PUBCOMP received. QoS 0: written to the socket (no broker ack exists). */
  acked: number;
  /** sent - acked: publish errors plus publishes still unacknowledged when the run ended. */
  failed: number;
  publishErrors: number;
  unackedAtExit: number;
  connectionErrors: number;
  reconnects: number;
  /** Due readings that had to wait for a later tick because an in-flight window was full. */
  deferred: number;
  /** From the first tick until the last ack (or drain timeout); excludes connecting. */
  durationMs: number;
  /** acked / duration. */
  ratePerSec: number;
  targetRatePerSec: number;
  /** null for QoS 0, which has no acknowledgements to time. */
  ackLatencyMs: LatencyPercentiles | null;
  stopReason: StopReason;
  startedAt: string;
  devices: DeviceLedgerEntry[];
}

export async function runSimulation(opts: SimulationOptions, signal?: AbortSignal): Promise<SimulationSummary> {
  const o = resolveOptions(opts);
  const n = o.devices;
  const gens: DeviceReadings[] = [];
  const topics: string[] = [];
  const connOf = new Uint32Array(n);
  for (let d = 0; d < n; d++) {
    const g = createDeviceReadings(d, n, o.seed, o.devicePrefix);
    gens.push(g);
    topics.push(o.topicTemplate.replaceAll('{deviceId}', g.deviceId));
    connOf[d] = d % o.connections; // round-robin spread of devices over connections
  }
  const sentBy = new Float64Array(n);
  const ackedBy = new Float64Array(n);
  const latency = new LatencyHistogram();
  let sent = 0;
  let acked = 0;
  let publishErrors = 0;
  let deferred = 0;
  let closing = false; // callbacks fired by the forced close must not be counted as results

  const transport = new MqttTransport({
    url: o.url,
    connections: o.connections,
    clientIdPrefix: o.devicePrefix,
    qos: o.qos,
    maxInflight: o.maxInflight,
    connectTimeoutMs: o.connectTimeoutMs,
  });
  await transport.connect(signal);

  const startedAt = new Date();
  const startMs = performance.now();
  const scheduler = new TokenScheduler({
    ratePerSec: o.totalRate,
    startMs,
    durationMs: o.durationMs,
    count: o.count,
    deadlineMs: o.deadlineMs,
  });
  let cursor = 0; // next device in round-robin order
  let backlog = 0; // tokens left over after the previous tick (already counted as deferred)
  let stopReason: StopReason | undefined = signal?.aborted ? 'aborted' : undefined;

  const publishOne = (d: number, ts: number): void => {
    const seq = sentBy[d]! + 1;
    sentBy[d] = seq;
    sent++;
    const payload = encodeReading(gens[d]!.next(ts), o.payloadBytes);
    const t0 = performance.now();
    transport.publish(connOf[d]!, topics[d]!, payload, (err) => {
      if (closing) return;
      if (err) {
        publishErrors++;
        return;
      }
      acked++;
      ackedBy[d] = ackedBy[d]! + 1;
      if (o.qos > 0) latency.record(performance.now() - t0);
    });
  };

  // The tick loop is bounded: per tick at most `available` publishes, and it
  // stops at the first device whose connection window is full (strict
  // round-robin keeps per-device counts even; the rest waits for the next tick).
  const tick = (): void => {
    if (stopReason) return;
    const now = performance.now();
    const available = scheduler.available(now);
    const ts = Date.now();
    let emitted = 0;
    while (emitted < available) {
      if (!transport.canPublish(connOf[cursor]!)) break;
      publishOne(cursor, ts);
      emitted++;
      cursor = cursor + 1 === n ? 0 : cursor + 1;
    }
    scheduler.take(emitted);
    const left = available - emitted;
    // Only newly postponed readings count; the older backlog was counted before.
    if (left > backlog) deferred += left - backlog;
    backlog = left;
    stopReason = scheduler.stopReason(now);
    if (stopReason) finish();
  };

  let lastProgress = { at: startMs, acked: 0 };
  const progress = (): void => {
    if (!o.onProgress) return;
    const now = performance.now();
    const dt = now - lastProgress.at;
    const snapshot: ProgressSnapshot = {
      elapsedMs: now - startMs,
      sent,
      acked,
      failed: publishErrors,
      inflight: transport.inflight,
      deferred,
      connectionErrors: transport.connectionErrors,
      connectedConnections: transport.connectedCount,
      connections: o.connections,
      recentRatePerSec: dt > 0 ? ((acked - lastProgress.acked) * 1000) / dt : 0,
      plannedReadings: scheduler.planned(),
    };
    lastProgress = { at: now, acked };
    o.onProgress(snapshot);
  };

  let finish: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onAbort = (): void => {
    if (!stopReason) stopReason = 'aborted';
    finish();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const ticker = setInterval(tick, o.tickMs);
  const progressTimer = o.onProgress ? setInterval(progress, o.progressIntervalMs) : undefined;
  if (stopReason) finish();
  else tick(); // first readings go out now, not one tick late

  try {
    await stopped;
    clearInterval(ticker);
    const drained = await transport.whenIdle(o.drainTimeoutMs);
    const durationMs = performance.now() - startMs;
    closing = true;
    await transport.close(!drained);

    const unackedAtExit = sent - acked - publishErrors;
    const devices: DeviceLedgerEntry[] = gens.map((g, d) => ({
      deviceId: g.deviceId,
      sent: sentBy[d]!,
      acked: ackedBy[d]!,
      firstSeq: sentBy[d]! > 0 ? 1 : null,
      lastSeq: sentBy[d]! > 0 ? sentBy[d]! : null,
    }));
    return {
      url: o.url,
      qos: o.qos,
      seed: o.seed,
      deviceCount: n,
      connectionCount: o.connections,
      sent,
      acked,
      failed: sent - acked,
      publishErrors,
      unackedAtExit,
      connectionErrors: transport.connectionErrors,
      reconnects: transport.reconnects,
      deferred,
      durationMs: Math.round(durationMs),
      ratePerSec: durationMs > 0 ? Math.round((acked * 1000 * 10) / durationMs) / 10 : 0,
      targetRatePerSec: o.totalRate,
      ackLatencyMs: o.qos > 0 ? latency.summary() : null,
      stopReason: stopReason ?? 'aborted',
      startedAt: startedAt.toISOString(),
      devices,
    };
  } finally {
    clearInterval(ticker);
    if (progressTimer) clearInterval(progressTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}
