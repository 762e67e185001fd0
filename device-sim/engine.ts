/**
 * The publishing loop. One ~10 ms ticker pops every device whose next reading
 * is due, builds the reading, publishes it and schedules the device again
 * (interval through bursts, plus jitter). A device whose connection window is
 * full is parked on that connection and goes back into the heap when the
 * transport reports room, so a stalled connection holds up only its own
 * devices. Readings due during a stall keep their due time and go out as soon
 * as there is room (a device flushing its backlog), without loss or duplication.
 * Faults are decided per reading from each device's own seeded stream;
 * anomalies by the reading's nominal due time, so they fall on the same
 * readings however busy the machine is.
 */
import { performance } from 'node:perf_hooks';
import type { DeviceAnomalies } from './anomalies/inject.js';
import { runStorms, type StormRunner } from './faults/storms.js';
import { appliesTo } from './faults/settings.js';
import type { DeviceLedger } from './ledger.js';
import type { SimDevice } from './model/device.js';
import { rngFor, symmetric, type Rng } from './model/random.js';
import { DueHeap } from './pacer.js';
import type { ResolvedOptions } from './plan.js';
import { LatencyHistogram } from './stats.js';
import type { Transport } from './transport/types.js';
import type { Wire } from './wire.js';

export type StopReason = 'count' | 'duration' | 'deadline' | 'aborted';

export class Counters {
  sent = 0;
  acked = 0;
  publishErrors = 0;
  /** Due readings that had to wait because their connection's window was full. */
  deferred = 0;
  duplicatesSent = 0;
  malformedSent = 0;
  oversizeSent = 0;
  noiseSent = 0;
  /** Errors of the extra (fault) publishes. */
  extraErrors = 0;
  reboots = 0;
  storms = 0;
  droppedConnections = 0;
}

export interface EngineParts {
  o: ResolvedOptions;
  devices: SimDevice[];
  ledgers: DeviceLedger[];
  transport: Transport;
  wire: Wire;
  connOf: Uint32Array;
  topics: string[];
  /** Per device index; undefined for devices without anomalies. */
  anomalies: ReadonlyArray<DeviceAnomalies | undefined>;
}

export class Engine {
  readonly counters = new Counters();
  readonly latency = new LatencyHistogram();
  stopReason: StopReason | undefined;
  startMs = 0;
  /** Once set, callbacks fired by the forced close are not counted as results. */
  closing = false;
  private startWall = 0;
  private readonly endMs: number;
  private readonly heap: DueHeap;
  private readonly nominal: Float64Array;
  private readonly parked = new Map<number, number[]>();
  private readonly wasDeferred: Uint8Array;
  private readonly faultRng: Rng[];
  private readonly jitterRng: Array<Rng | undefined>;
  private pumpQueued = false;
  private finish: () => void = () => {};

  constructor(private readonly p: EngineParts) {
    const n = p.devices.length;
    this.endMs = Math.min(p.o.durationMs, p.o.deadlineMs);
    this.heap = new DueHeap(n, new Float64Array(n));
    this.nominal = new Float64Array(n);
    this.wasDeferred = new Uint8Array(n);
    this.faultRng = p.devices.map((d) => rngFor(p.o.seed, d.deviceId, 'faults'));
    this.jitterRng = p.devices.map((d) => (d.spec.jitter > 0 ? rngFor(p.o.seed, d.deviceId, 'jitter') : undefined));
    p.transport.onCapacity = (c) => this.unpark(c);
  }

  now(): number {
    return performance.now() - this.startMs;
  }

  /** Readings the run is expected to send (nominal, ignoring bursts). */
  planned(): number {
    const o = this.p.o;
    return Number.isFinite(o.count) ? o.count : Math.floor((o.totalRate * this.endMs) / 1000);
  }

  /** Publishes until a bound is reached or `signal` aborts; resolves with the reason. */
  async run(signal?: AbortSignal): Promise<StopReason> {
    const { o, devices } = this.p;
    this.startMs = performance.now();
    this.startWall = Date.now();
    devices.forEach((d, i) => {
      this.nominal[i] = d.spec.phase * d.spec.intervalMs;
      this.schedule(i, this.nominal[i] as number, d.spec.intervalMs);
    });
    const stopped = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    const onAbort = (): void => this.stop('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    let storms: StormRunner | undefined;
    if (o.faults.storms.length > 0) {
      storms = runStorms(o.faults.storms, { seed: o.seed, connections: this.p.transport.connections, endMs: this.endMs, startedAt: this.startMs, now: () => performance.now() }, (conns) => {
        this.counters.storms++;
        this.counters.droppedConnections += conns.length;
        this.p.transport.disrupt(conns);
      });
    }
    const ticker = setInterval(() => this.tick(), o.tickMs);
    if (signal?.aborted) this.stop('aborted');
    else this.tick(); // first readings go out now, not one tick late
    try {
      await stopped;
    } finally {
      clearInterval(ticker);
      storms?.stop();
      signal?.removeEventListener('abort', onAbort);
    }
    return this.stopReason ?? 'aborted';
  }

  private stop(reason: StopReason): void {
    if (!this.stopReason) this.stopReason = reason;
    this.finish();
  }

  /** Puts device d back in the heap for `nominal` plus its jitter. */
  private schedule(d: number, nominal: number, span: number): void {
    const jr = this.jitterRng[d];
    const jitter = jr ? symmetric(jr) * (this.p.devices[d] as SimDevice).spec.jitter * span : 0;
    this.heap.due[d] = Math.max(0, nominal + jitter);
    this.heap.push(d);
  }

  private unpark(c: number): void {
    const list = this.parked.get(c);
    if (!list) return;
    this.parked.delete(c);
    for (const d of list) this.heap.push(d);
    // Ack-driven refill: do not wait for the next tick when a window opens.
    if (!this.pumpQueued && !this.stopReason) {
      this.pumpQueued = true;
      setImmediate(() => {
        this.pumpQueued = false;
        this.tick();
      });
    }
  }

  private tick(): void {
    if (this.stopReason) return;
    const now = this.now();
    const wall = Date.now();
    const limit = Math.min(now + 1e-9, this.endMs);
    const { transport, connOf } = this.p;
    const heap = this.heap;
    while (heap.size > 0) {
      const d = heap.peek();
      const due = heap.due[d] as number;
      // A reading due exactly at the end is not sent: N readings/s for S seconds is N × S.
      if (due > limit || due >= this.endMs) break;
      heap.pop();
      const c = connOf[d] as number;
      if (!transport.canPublish(c)) {
        const list = this.parked.get(c);
        if (list) list.push(d);
        else this.parked.set(c, [d]);
        if (!this.wasDeferred[d]) {
          this.wasDeferred[d] = 1;
          this.counters.deferred++;
        }
        continue;
      }
      this.wasDeferred[d] = 0;
      this.emit(d, wall);
      if (this.stopReason) return;
    }
    if (now >= this.endMs) this.stop(this.p.o.durationMs <= this.p.o.deadlineMs ? 'duration' : 'deadline');
  }

  /** Sends device d's due reading (and any fault extras), then schedules its next one. */
  private emit(d: number, wall: number): void {
    const { o, devices, ledgers, transport, wire, topics } = this.p;
    const dev = devices[d] as SimDevice;
    const ledger = ledgers[d] as DeviceLedger;
    const f = o.faults;
    const fleet = dev.spec.fleet;
    const rng = this.faultRng[d] as Rng;
    const c = this.p.connOf[d] as number;
    const topic = topics[d] as string;
    const k = this.counters;
    const nominal = this.nominal[d] as number;

    if (f.reboots && appliesTo(f.reboots.fleets, fleet) && rng() < f.reboots.ratio) {
      dev.reboot();
      ledger.startBoot(dev.boot);
      k.reboots++;
      if (f.reboots.downtimeMs > 0) {
        // Down: nothing this time; the first reading of the new boot comes after the downtime.
        this.nominal[d] = nominal + f.reboots.downtimeMs;
        this.schedule(d, this.nominal[d] as number, dev.spec.intervalMs);
        return;
      }
    }

    const ts = dev.clock(wall, this.startWall);
    const anomalies = this.p.anomalies[d];
    if (anomalies?.silent(nominal, ts)) {
      // A dropout: the device sends nothing (no seq used, like a device that is off), then resumes.
      this.scheduleNext(d, nominal);
      return;
    }
    const values = dev.next(ts);
    anomalies?.apply(values, nominal, ts);
    const seq = dev.seq;
    const rec = ledger.current;
    const reading = { deviceId: dev.deviceId, seq, ts, boot: dev.boot, values };
    const payload = wire.reading(reading);
    ledger.recordSent(rec, seq);
    k.sent++;
    const t0 = performance.now();
    const measure = o.qos > 0;
    transport.publish(c, topic, payload, (err) => {
      if (this.closing) return;
      if (err) {
        k.publishErrors++;
        return;
      }
      k.acked++;
      ledger.recordAcked(rec, seq);
      if (measure) this.latency.record(performance.now() - t0);
    });
    const extraDone = (err: Error | undefined): void => {
      if (err && !this.closing) k.extraErrors++;
    };
    if (f.duplicates && appliesTo(f.duplicates.fleets, fleet) && rng() < f.duplicates.ratio) {
      rec.duplicated.add(seq);
      k.duplicatesSent++;
      transport.publish(c, topic, payload, extraDone);
    }
    if (f.malformed && appliesTo(f.malformed.fleets, fleet) && rng() < f.malformed.ratio) {
      const kind = f.malformed.kinds[Math.floor(rng() * f.malformed.kinds.length)] as (typeof f.malformed.kinds)[number];
      k.malformedSent++;
      transport.publish(c, topic, wire.malformed(kind, reading), extraDone);
    }
    if (f.oversize && appliesTo(f.oversize.fleets, fleet) && rng() < f.oversize.ratio) {
      k.oversizeSent++;
      // Always QoS 0: a broker that refuses it closes the connection, and a QoS 1 copy would be
      // resent first after every reconnect, closing the connection again, forever.
      transport.publish(c, topic, wire.oversize(reading, f.oversize.bytes), extraDone, 0);
    }
    if (f.noise && rng() < f.noise.ratio) {
      k.noiseSent++;
      transport.publish(c, topic, wire.noise(rng, f.noise.bytes), extraDone);
    }

    if (k.sent >= o.count) {
      this.stop('count');
      return;
    }
    this.scheduleNext(d, nominal);
  }

  private scheduleNext(d: number, nominal: number): void {
    const dev = this.p.devices[d] as SimDevice;
    const next = this.p.o.faults.bursts.advance(nominal, dev.spec.intervalMs, dev.spec.fleet);
    this.nominal[d] = next;
    this.schedule(d, next, next - nominal);
  }
}
