import type { PendingReading } from '../../buffer/types.js';
import type { ReadingValue } from '../../normalize/reading.js';
import { consume, filter, pass, type ProducedRecord, type StateOp, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { withFields } from '../../pipeline/reading-copy.js';
import { aggregateRecord, lateCopy, type AggregateShape, type ClosedBy } from './emit.js';
import { holdsData, newKeyState, type KeyState, type OpenWindow } from './key-state.js';
import { windowKind, type WindowKind } from './kinds.js';
import type { WindowConfig } from './schema.js';
import { decodeState, encodeKey, KEY_PREFIX, SHAPE_KEY, shapeFingerprint } from './state-codec.js';

interface Registered {
  readonly state: KeyState;
  readonly window: OpenWindow;
}

/**
 * `window`: folds readings into windows per key (device, or any group-by fields) and emits an `aggregate`
 * record per closed window. Readings it takes are consumed; readings without its fields or key pass by.
 *
 * Windows close on time, never on silence: when the key's watermark (newest event time minus
 * allowedLatenessMs) passes their end, so a key that never goes quiet still gets every window closed (the
 * pitfall of Vector's `reduce`, which flushes only after a pause); an idle key's last windows close from
 * `onTime` after idleTimeoutMs of gateway time. A reading for an already closed range is late: kept in the
 * stream as a `derived` record tagged late (or passed on tagged), counted, never dropped silently.
 */
export class WindowTransform implements Transform {
  private readonly kind: WindowKind;
  private readonly shape: AggregateShape;
  private readonly idleTimeoutMs: number;
  private readonly keys = new Map<string, KeyState>();
  /** Open windows over all keys in creation order (a Map keeps insertion order): the first is the oldest. */
  private readonly open = new Map<number, Registered>();
  private nextSeq = 1;
  private readonly dirty = new Set<string>();
  private readonly groupFields: readonly string[];
  private readonly fields: readonly string[];
  private readonly fingerprint: string;
  /** The shape is written with the next checkpoint: at first, and after a restore under another shape. */
  private shapeDirty = true;
  /** State restored under another shape and set aside, to be logged and counted once a context is at hand. */
  private discarded: { windows: number; readings: number; keys: number } | null = null;

  constructor(
    readonly id: string,
    private readonly config: WindowConfig,
  ) {
    this.kind = windowKind(config);
    const name = config.name ?? id;
    this.shape = { name, topic: config.topic ?? `tidegate/aggregates/${name}`, config };
    this.idleTimeoutMs = config.idleTimeoutMs ?? this.kind.lengthMs + config.allowedLatenessMs;
    this.groupFields = config.groupBy;
    this.fields = config.fields;
    this.fingerprint = shapeFingerprint(config);
  }

  /** Open windows over all keys (for the memory bound and its tests). */
  get openWindows(): number {
    return this.open.size;
  }

  /** Open windows and keys as gauges: what the state holds now, against maxOpenWindows and maxKeys. */
  attach(ctx: TransformContext): void {
    const label = `{window="${this.shape.name}"}`;
    ctx.metrics.gauge(`window_open_windows${label}`, () => this.open.size);
    ctx.metrics.gauge(`window_keys${label}`, () => this.keys.size);
    ctx.metrics.counter('window_restore_discarded_total', { window: this.shape.name });
  }

  /** Says once, with the first context after a restore, what was set aside because the shape changed. */
  private reportDiscarded(ctx: TransformContext): void {
    const d = this.discarded;
    if (!d) return;
    this.discarded = null;
    ctx.metrics.inc('window_restore_discarded_total', { window: this.shape.name }, d.windows);
    ctx.logger.warn(
      { window: this.shape.name, windows: d.windows, readings: d.readings, keys: d.keys },
      'the window changed (kind, length, groupBy, fields or aggregates) since its state was saved: the open windows saved under the old shape were discarded, not closed with mismatched accumulators; their readings were already counted as consumed',
    );
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    if (this.discarded) this.reportDiscarded(ctx);
    const key = this.keyOf(reading);
    if (!key) return this.skip(ctx, 'no_group_key', reading);
    let values: Record<string, number> | undefined;
    for (const field of this.fields) {
      const v = reading.values[field];
      if (typeof v === 'number' && Number.isFinite(v)) (values ??= {})[field] = v;
    }
    if (!values) return this.skip(ctx, 'no_fields', reading);

    const t = this.config.time === 'processing' ? reading.receivedAt : (reading.ts ?? reading.receivedAt);
    // A device clock far ahead would carry its key's watermark with it and make every later reading late.
    if (this.kind.byTime && t - reading.receivedAt > this.config.maxFutureMs) return this.late(ctx, reading, t, reading.receivedAt, [], 'future');
    const id = encodeKey(key);
    let state = this.keys.get(id);
    if (!state) {
      this.keys.set(id, (state = newKeyState(id, key, reading.receivedAt)));
      if (this.keys.size > this.config.maxKeys) this.forgetIdleKeys(id, ctx);
    }
    this.dirty.add(id);
    state.lastArrival = Math.max(state.lastArrival, reading.receivedAt);
    const produced: ProducedRecord[] = [];
    const now = ctx.clock.now();

    if (this.kind.byTime) {
      const candidate = t - this.config.allowedLatenessMs;
      if (state.watermark === null || candidate > state.watermark) {
        state.watermark = candidate;
        this.closeUpTo(state, candidate, 'watermark', now, produced);
      }
      if (this.kind.isLate(state, t)) return this.late(ctx, reading, t, state.watermark!, produced);
    }
    const input = { t, a: state.arrivals++, deviceId: reading.deviceId, ...(reading.seq !== undefined ? { seq: reading.seq } : {}), values };
    const full = this.kind.place(state, input, this.openWindow, this.discardWindow);
    for (const w of full) this.close(state, w, 'full', now, produced);
    this.enforceBounds(state, now, produced, ctx);
    return consume(produced.length > 0 ? produced : undefined);
  }

  onTime(now: number, ctx: TransformContext): readonly ProducedRecord[] {
    if (this.discarded) this.reportDiscarded(ctx);
    const produced: ProducedRecord[] = [];
    for (const state of [...this.keys.values()]) {
      if (this.config.time === 'processing' && this.kind.byTime) {
        // Processing time: the gateway clock is the watermark of every key that holds windows.
        if (holdsData(state)) this.raise(state, now - this.config.allowedLatenessMs, 'watermark', now, produced);
      } else if (holdsData(state) && now - state.lastArrival >= this.idleTimeoutMs) {
        this.closeAll(state, 'idle', now, produced, ctx);
      }
      if (!holdsData(state) && now - state.lastArrival >= this.config.keyRetentionMs) {
        this.keys.delete(state.id);
        this.dirty.add(state.id);
      }
    }
    return sortRecords(produced);
  }

  flush(ctx: TransformContext): readonly ProducedRecord[] {
    if (this.config.onStop === 'keep') return [];
    const produced: ProducedRecord[] = [];
    const now = ctx.clock.now();
    for (const state of this.keys.values()) if (holdsData(state)) this.closeAll(state, 'stop', now, produced, ctx);
    return sortRecords(produced);
  }

  checkpoint(): readonly StateOp[] {
    const ops: StateOp[] = [];
    if (this.shapeDirty) {
      ops.push({ type: 'put', key: SHAPE_KEY, value: this.fingerprint });
      this.shapeDirty = false;
    }
    for (const id of this.dirty) {
      const state = this.keys.get(id);
      ops.push(state ? { type: 'put', key: KEY_PREFIX + id, value: JSON.stringify(state) } : { type: 'del', key: KEY_PREFIX + id });
    }
    this.dirty.clear();
    return ops;
  }

  restore(stored: ReadonlyMap<string, string>): void {
    const decoded = decodeState(stored);
    this.keys.clear();
    this.open.clear();
    this.dirty.clear();
    this.nextSeq = decoded.nextSeq;
    // State saved before shapes were stored is taken as it is (the shape cannot be told); a known other shape
    // is set aside, and its keys deleted from the store with the next checkpoint.
    this.shapeDirty = decoded.shape !== this.fingerprint;
    if (decoded.shape !== undefined && decoded.shape !== this.fingerprint) {
      const windows = decoded.states.reduce((n, s) => n + s.windows.length, 0);
      const readings = decoded.states.reduce((n, s) => n + s.windows.reduce((m, w) => m + windowCount(w), 0), 0);
      this.discarded = { windows, readings, keys: decoded.states.length };
      for (const state of decoded.states) this.dirty.add(state.id);
      return;
    }
    const windows: Registered[] = [];
    for (const state of decoded.states) {
      this.keys.set(state.id, state);
      for (const window of state.windows) windows.push({ state, window });
    }
    for (const r of windows.sort((a, b) => a.window.seq - b.window.seq)) this.open.set(r.window.seq, r);
  }

  /**
   * maxKeys: forgets the longest-quiet keys that hold no window (they keep only a watermark), down to 90 % of
   * the bound, so a flood of device ids costs one scan per 10 % of the bound rather than one per reading. Keys
   * with windows are bounded by maxOpenWindows. A forgotten key's next reading starts it afresh.
   */
  private forgetIdleKeys(keep: string, ctx: TransformContext): void {
    const idle = [...this.keys.values()].filter((s) => s.id !== keep && !holdsData(s)).sort((a, b) => a.lastArrival - b.lastArrival || (a.id < b.id ? -1 : 1)); // ids: the same choice after a restore
    const forget = idle.slice(0, Math.max(0, this.keys.size - Math.floor(this.config.maxKeys * 0.9)));
    for (const s of forget) {
      this.keys.delete(s.id);
      this.dirty.add(s.id);
    }
    if (forget.length > 0) ctx.metrics.inc('window_keys_forgotten_total', { window: this.shape.name }, forget.length);
  }

  private keyOf(reading: PendingReading): Record<string, ReadingValue> | undefined {
    const key: Record<string, ReadingValue> = {};
    for (const field of this.groupFields) {
      const v = field === 'deviceId' ? reading.deviceId : (reading.tags?.[field] ?? reading.values[field]);
      if (v === undefined) return undefined;
      key[field] = v;
    }
    return key;
  }

  private skip(ctx: TransformContext, reason: string, reading: PendingReading): TransformResult {
    ctx.metrics.inc('window_skipped_total', { window: this.shape.name, reason });
    return pass(reading);
  }

  /** A reading no window may take: `late` (its windows closed) or `future` (ts too far ahead of the gateway). */
  private late(ctx: TransformContext, reading: PendingReading, t: number, watermark: number, produced: ProducedRecord[], reason: 'late' | 'future' = 'late'): TransformResult {
    ctx.metrics.inc(reason === 'late' ? 'window_late_total' : 'window_future_total', { window: this.shape.name });
    const tags: Record<string, boolean> = reason === 'late' ? { late: true } : { late: true, future: true };
    if (this.config.late === 'pass') return pass(withFields(reading, reading.values, { ...reading.tags, ...tags }), produced.length > 0 ? produced : undefined);
    produced.push(lateCopy(this.shape, reading, t, watermark, tags));
    return filter(reason, produced);
  }

  private readonly openWindow = (state: KeyState, start: number, end: number): OpenWindow => {
    const window: OpenWindow = { seq: this.nextSeq++, start, end, acc: null };
    state.windows.push(window);
    this.open.set(window.seq, { state, window });
    return window;
  };

  private readonly discardWindow = (state: KeyState, window: OpenWindow): void => {
    state.windows.splice(state.windows.indexOf(window), 1);
    this.open.delete(window.seq);
  };

  private close(state: KeyState, window: OpenWindow, closedBy: ClosedBy, now: number, produced: ProducedRecord[]): void {
    const acc = this.kind.contents(state, window);
    this.discardWindow(state, window);
    this.dirty.add(state.id);
    if (acc.count > 0) produced.push(aggregateRecord(this.shape, state, window, acc, closedBy, now));
  }

  /** Closes, oldest end first, every window of the key that ends at or before `watermark`. */
  private closeUpTo(state: KeyState, watermark: number, closedBy: ClosedBy, now: number, produced: ProducedRecord[]): void {
    const due = state.windows.filter((w) => w.end <= watermark).sort((a, b) => a.end - b.end || a.start - b.start);
    for (const w of due) this.close(state, w, closedBy, now, produced);
    this.kind.prune(state);
  }

  /** Raises a key's watermark (never lowers it), closing what it passes: closed ranges are never reopened. */
  private raise(state: KeyState, to: number, closedBy: ClosedBy, now: number, produced: ProducedRecord[]): void {
    if (state.watermark !== null && to <= state.watermark) return;
    state.watermark = to;
    // Only a raise that closed or pruned something is written: otherwise a processing-time tick would rewrite
    // every key each second. A restored, lower watermark is raised again by the next tick, and closed ranges
    // stay closed because the raise that closed them was written.
    const held = state.windows.length + (state.log?.length ?? 0);
    this.closeUpTo(state, to, closedBy, now, produced);
    if (state.windows.length + (state.log?.length ?? 0) !== held) this.dirty.add(state.id);
  }

  private closeAll(state: KeyState, closedBy: ClosedBy, now: number, produced: ProducedRecord[], ctx: TransformContext): void {
    ctx.metrics.inc('window_closed_early_total', { window: this.shape.name, reason: closedBy }, state.windows.length);
    if (!this.kind.byTime) {
      for (const w of [...state.windows].sort((a, b) => a.start - b.start)) this.close(state, w, closedBy, now, produced);
      state.taken = 0; // the next reading starts a fresh count window
      return;
    }
    // Loops, not Math.max(...): a sliding log may hold more entries than a call takes arguments.
    let to = -Infinity;
    for (const w of state.windows) to = Math.max(to, w.end);
    for (const e of state.log ?? []) to = Math.max(to, e.t + this.config.sizeMs!);
    this.raise(state, to, closedBy, now, produced);
  }

  /**
   * maxOpenWindows over all keys: the oldest open window closes early (its key's watermark rises to its end,
   * so the range stays closed). Sliding windows also bound the readings a key keeps to maxValuesPerWindow.
   */
  private enforceBounds(state: KeyState, now: number, produced: ProducedRecord[], ctx: TransformContext): void {
    while (this.open.size > this.config.maxOpenWindows) {
      const oldest = this.open.values().next().value!;
      ctx.metrics.inc('window_closed_early_total', { window: this.shape.name, reason: 'bound' });
      if (this.kind.byTime) this.raise(oldest.state, oldest.window.end, 'bound', now, produced);
      // Open windows end after their key's watermark, so the raise closed it; closing it here regardless keeps
      // this loop finite should that ever not hold.
      if (this.open.has(oldest.window.seq)) this.close(oldest.state, oldest.window, 'bound', now, produced);
    }
    const log = state.log;
    if (log && log.length > this.config.maxValuesPerWindow) this.dropOldestLogged(state, log, now, produced, ctx);
  }

  /**
   * A sliding key past maxValuesPerWindow: the windows holding its oldest reading close early (so that reading
   * is in an aggregate), the watermark rises to the newest of their ends (so none opens twice), and the reading
   * is dropped. Windows of the key that start before it from then on lack it, and say `incomplete`.
   */
  private dropOldestLogged(state: KeyState, log: NonNullable<KeyState['log']>, now: number, produced: ProducedRecord[], ctx: TransformContext): void {
    let oldest = 0;
    for (let i = 1; i < log.length; i++) if (log[i]!.t < log[oldest]!.t) oldest = i;
    const t = log[oldest]!.t;
    const holding = state.windows.filter((w) => w.start <= t && t < w.end);
    ctx.metrics.inc('window_closed_early_total', { window: this.shape.name, reason: 'bound' }, holding.length);
    for (const w of holding.sort((a, b) => a.end - b.end)) this.close(state, w, 'bound', now, produced);
    const newestEnd = holding.reduce((end, w) => Math.max(end, w.end), -Infinity);
    if (state.watermark === null || newestEnd > state.watermark) state.watermark = newestEnd;
    log.splice(oldest, 1);
    state.droppedUpTo = Math.max(state.droppedUpTo ?? -Infinity, t);
    this.kind.prune(state);
    this.dirty.add(state.id);
  }
}

/** Records of several keys in a stable order (window end, key, start), whatever order the keys are held in. */
function sortRecords(records: ProducedRecord[]): ProducedRecord[] {
  const order = (r: ProducedRecord) => r.reading.result as { window: { start: number; end: number } };
  return records.sort((a, b) => order(a).window.end - order(b).window.end || (a.reading.deviceId < b.reading.deviceId ? -1 : a.reading.deviceId > b.reading.deviceId ? 1 : 0) || order(a).window.start - order(b).window.start);
}

function windowCount(w: OpenWindow): number {
  return w.acc?.count ?? 0;
}
