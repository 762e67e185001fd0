import { filter, pass, type StateOp, type Transform, type TransformContext, type TransformResult } from './transform.js';
import type { PendingReading } from '../buffer/types.js';

/** Seqs remembered below a device's newest: a resend older than this is taken as new (and counted twice). */
export const RESEND_WINDOW = 256;
const WORDS = RESEND_WINDOW / 32;

/** Per device: its newest seq and that reading's ts, and which of the RESEND_WINDOW seqs below it were seen. */
interface DeviceWindow {
  maxSeq: number;
  maxTs: number;
  /** Bit i of the window: seq maxSeq - i was seen (bit 0 is maxSeq itself). */
  seen: Uint32Array;
}

/**
 * Drops a reading a device sent again. At QoS 1 a device resends what it did not see acknowledged (after a
 * reconnect, or a gateway crash between the commit and the PUBACK), and the reading then arrives twice. In
 * the stream a consumer can remove the duplicate by device and seq, but once a window or a detector has
 * consumed it, nothing downstream can: so a chain with stateful transforms runs this guard first.
 *
 * A reading is a resend when its device already sent that `seq` with a `ts` no newer than the device's newest
 * (an IPsec-style anti-replay window of RESEND_WINDOW seqs per device). A lower seq with a newer ts is a
 * device that restarted its count (a reboot): the window starts over. Readings without both `seq` and `ts`
 * cannot be told apart from a resend and always pass. State is checkpointed with the readings, like any
 * stateful transform's, so a resend after a gateway crash is still recognised.
 */
export class ResendGuard implements Transform {
  readonly id = 'resend_guard';
  private readonly devices = new Map<string, DeviceWindow>();
  private readonly dirty = new Set<string>();

  constructor(private readonly maxDevices = 100_000) {}

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    const { seq, ts, deviceId } = reading;
    if (seq === undefined || ts === undefined) return pass(reading);
    let w = this.devices.get(deviceId);
    if (!w) {
      this.remember(deviceId, (w = { maxSeq: seq, maxTs: ts, seen: new Uint32Array(WORDS) }), ctx);
      setBit(w.seen, 0);
      return pass(reading);
    }
    if (seq > w.maxSeq || (seq < w.maxSeq && ts > w.maxTs)) {
      // Newer than anything seen, or a restarted count: slide (or reset) the window to this seq.
      shift(w.seen, seq > w.maxSeq ? seq - w.maxSeq : RESEND_WINDOW);
      w.maxSeq = seq;
      w.maxTs = ts;
      setBit(w.seen, 0);
    } else {
      const back = w.maxSeq - seq;
      if (back >= RESEND_WINDOW) return pass(reading);
      if (getBit(w.seen, back)) {
        ctx.metrics.inc('readings_resent_total');
        return filter('resent_duplicate');
      }
      setBit(w.seen, back);
    }
    this.touch(deviceId, w);
    return pass(reading);
  }

  checkpoint(): readonly StateOp[] {
    const ops: StateOp[] = [];
    for (const id of this.dirty) {
      const w = this.devices.get(id);
      ops.push(w ? { type: 'put', key: id, value: JSON.stringify([w.maxSeq, w.maxTs, Array.from(w.seen)]) } : { type: 'del', key: id });
    }
    this.dirty.clear();
    return ops;
  }

  restore(state: ReadonlyMap<string, string>): void {
    this.devices.clear();
    this.dirty.clear();
    for (const [id, value] of state) {
      const parsed = JSON.parse(value) as [number, number, number[]];
      if (!Array.isArray(parsed) || parsed[2]?.length !== WORDS) continue;
      this.devices.set(id, { maxSeq: parsed[0], maxTs: parsed[1], seen: Uint32Array.from(parsed[2]) });
    }
  }

  private remember(deviceId: string, w: DeviceWindow, ctx: TransformContext): void {
    // Bounded: past maxDevices the device seen longest ago is forgotten (its resends then count as new).
    if (this.devices.size >= this.maxDevices) {
      const oldest = this.devices.keys().next().value!;
      this.devices.delete(oldest);
      this.dirty.add(oldest);
      ctx.metrics.inc('resend_guard_evicted_total');
    }
    this.devices.set(deviceId, w);
    this.dirty.add(deviceId);
  }

  /** Map order is recency order, so eviction takes the device seen longest ago. */
  private touch(deviceId: string, w: DeviceWindow): void {
    this.devices.delete(deviceId);
    this.devices.set(deviceId, w);
    this.dirty.add(deviceId);
  }
}

function getBit(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5]! |= 1 << (i & 31);
}

/** Moves every bit `n` places up (towards older seqs); bits pushed past the window are gone. */
function shift(bits: Uint32Array, n: number): void {
  if (n >= RESEND_WINDOW) {
    bits.fill(0);
    return;
  }
  const words = n >>> 5;
  const rest = n & 31;
  for (let i = WORDS - 1; i >= 0; i--) {
    const from = i - words;
    const hi = from >= 0 ? bits[from]! : 0;
    const lo = from - 1 >= 0 ? bits[from - 1]! : 0;
    bits[i] = rest === 0 ? hi : ((hi << rest) | (lo >>> (32 - rest))) >>> 0;
  }
}
