import { performance } from 'node:perf_hooks';
import { TidegateError } from '../../core/errors.js';
import type { PendingReading } from '../../buffer/types.js';
import { consume, pass, type ProducedRecord, type StateOp, type Transform, type TransformContext, type TransformResult } from '../../pipeline/transform.js';
import { AlarmCounters, type SkipReason } from './alarm-metrics.js';
import { createDetector, type Detector, type Evaluation } from './detectors/index.js';
import { alarmRecord, type SeriesKey } from './record.js';
import type { DetectConfig } from './schema.js';
import { MAX_READING_REFS, SeriesTable, type Series } from './series-table.js';
import { acknowledge, elapse, initialAlarmState, isRaised, shelve, stateName, step, type MachineTiming, type Transition } from './state-machine.js';

/** One alarm as operators and the local notification see it. */
export interface AlarmView {
  rule: string;
  deviceId: string;
  key: SeriesKey;
  state: string;
  severity: string;
  detector: string;
  value: number;
  threshold: number;
  raisedAt: number | null;
  shelvedUntil: number | null;
  /** The record of the alarm's current standing (its raise, or its acknowledgement), for republishing. */
  record: ProducedRecord;
}

/**
 * `detect`: judges each matching reading with the rule's detector, one series per device (or group), and runs
 * the alarm state machine of each series; transitions come out as alarm records on the alarm lane. The
 * readings pass on unchanged (or are consumed, by config). Time alone moves the machines too (`onTime`):
 * hold times end, shelves expire and silent series raise `missing` alarms with no reading arriving.
 *
 * State (detector baselines and alarm states) is checkpointed per series, so after a restart an active alarm
 * is still active: it is not raised again, and its clear is recorded when the value returns.
 */
export class DetectTransform implements Transform {
  readonly rule: string;
  private readonly detector: Detector;
  private readonly table: SeriesTable;
  private readonly timing: MachineTiming;
  private readonly devices: RegExp | null;
  private counters: AlarmCounters | null = null;
  /** Set by restore: the next tick tells the detector the series were not watched in between. */
  private resumePending = false;
  /** The detector config as saved with each series. */
  private readonly fingerprint: string;
  /** Saved entries the last restore could not use (logged on the next tick). */
  private discarded = 0;

  constructor(
    readonly id: string,
    private readonly config: DetectConfig,
  ) {
    this.rule = config.rule;
    this.detector = createDetector(config.detector);
    this.table = new SeriesTable(config.maxSeries);
    this.timing = { raiseHoldMs: config.raiseHoldMs, clearHoldMs: config.clearHoldMs, minReraiseMs: config.minReraiseMs };
    this.fingerprint = JSON.stringify(config.detector);
    this.devices = config.devices ? new RegExp(`^(?:${config.devices.map(globToPattern).join('|')})$`) : null;
  }

  process(reading: PendingReading, ctx: TransformContext): TransformResult {
    // Alarms this or another rule made are not judged again.
    if (reading.kind === 'alarm' || (this.devices && !this.devices.test(reading.deviceId))) return pass(reading);
    const counters = this.countersFor(ctx);
    const value = this.valueOf(reading);
    if (typeof value === 'string') {
      counters.skip(value);
      return pass(reading);
    }
    const key = this.keyOf(reading);
    if (key === null) {
      counters.skip('no_group_tag');
      return pass(reading);
    }
    const now = ctx.clock.now();
    const started = performance.now();
    const produced = this.judge(key, reading, value, now, counters);
    counters.evaluations.inc();
    counters.evaluationSeconds.inc((performance.now() - started) / 1000);
    const fate = this.config.readings === 'consume' ? consume : (p?: readonly ProducedRecord[]) => pass(reading, p);
    return fate(produced.length > 0 ? produced : undefined);
  }

  onTime(now: number, ctx: TransformContext): readonly ProducedRecord[] {
    const counters = this.countersFor(ctx);
    const out: ProducedRecord[] = [];
    if (this.resumePending && this.detector.resume) for (const [id, s] of this.table.entries()) {
      if (isRaised(s.alarm)) continue;
      this.detector.resume(s.detector, now);
      this.table.changed.add(id);
    }
    this.resumePending = false;
    if (this.discarded > 0) {
      ctx.logger.warn({ rule: this.rule, entries: this.discarded }, 'saved alarm state that belongs to another rule or cannot be read was discarded');
      this.discarded = 0;
    }
    for (const [id, s] of this.table.entries()) {
      const before = `${s.alarm.phase}|${s.alarm.since}|${s.alarm.shelvedUntil}`;
      let transitions: Transition[];
      const evaluation = this.detector.elapse?.(s.detector, now, isRaised(s.alarm)) ?? null;
      if (evaluation) {
        if (evaluation.breach !== null) this.remember(s, evaluation);
        transitions = step(s.alarm, evaluation.breach, now, this.timing);
      } else transitions = elapse(s.alarm, now, this.timing);
      if (transitions.length > 0 || before !== `${s.alarm.phase}|${s.alarm.since}|${s.alarm.shelvedUntil}`) this.table.changed.add(id);
      for (const t of transitions) out.push(this.record(t, s, now, counters));
    }
    return out;
  }

  checkpoint(): readonly StateOp[] {
    const ops: StateOp[] = [];
    for (const id of this.table.changed) {
      const s = this.table.get(id);
      ops.push(s ? { type: 'put', key: `s:${id}`, value: JSON.stringify(s) } : { type: 'del', key: `s:${id}` });
    }
    this.table.changed.clear();
    return ops;
  }

  /**
   * Entries of another rule (the transforms were reordered, so this position now holds another rule) and
   * entries that cannot be read are left out, and dropped from the disk at the next checkpoint. A series saved
   * under another detector config keeps its alarm state (a raised alarm must still clear) but starts its
   * detector's baseline afresh, since the old one may not even have the same shape.
   */
  restore(state: ReadonlyMap<string, string>): void {
    this.table.clear();
    this.discarded = 0;
    const entries: Array<[string, Series]> = [];
    for (const [key, value] of state) {
      if (!key.startsWith('s:')) continue;
      const id = key.slice(2);
      const s = readSeries(value);
      if (!s || s.rule !== this.rule || s.key.deviceId !== id) {
        this.discarded += 1;
        this.table.changed.add(id);
        continue;
      }
      if (s.fingerprint !== this.fingerprint) {
        s.detector = this.detector.initial(s.lastSeen);
        s.fingerprint = this.fingerprint;
        this.table.changed.add(id);
      }
      entries.push([id, s]);
    }
    this.table.load(entries);
    this.resumePending = entries.length > 0;
  }

  /** Every series whose alarm is raised, or shelved, for `tidegate alarms list` and the local notification. */
  alarms(options: { all?: boolean } = {}): AlarmView[] {
    const out: AlarmView[] = [];
    for (const [, s] of this.table.entries()) {
      if (!options.all && !isRaised(s.alarm) && s.alarm.shelvedUntil === null) continue;
      const transition: Transition = s.alarm.acknowledged ? 'acknowledged' : isRaised(s.alarm) ? 'raised' : 'shelved';
      out.push({
        rule: this.rule,
        deviceId: s.key.deviceId,
        key: s.key,
        state: stateName(s.alarm),
        severity: this.config.severity,
        detector: this.detector.kind,
        value: s.value,
        threshold: s.threshold,
        raisedAt: isRaised(s.alarm) ? s.alarm.raisedAt : null,
        shelvedUntil: s.alarm.shelvedUntil,
        record: alarmRecord(transition, this.facts(s), s.alarm.raisedAt ?? s.lastSeen),
      });
    }
    return out;
  }

  /** An operator acknowledges the raised alarm of a device (or group key); returns the record to commit. */
  acknowledge(deviceId: string, now: number, ctx: TransformContext): ProducedRecord[] {
    const s = this.seriesOf(deviceId);
    if (!acknowledge(s.alarm)) throw new TidegateError('ERR_USAGE', `alarm ${this.rule}/${deviceId} is ${stateName(s.alarm)}: there is nothing to acknowledge`);
    this.table.changed.add(deviceId);
    return [this.record('acknowledged', s, now, this.countersFor(ctx))];
  }

  /** An operator shelves (until > now) or unshelves (until <= now) the alarm of a device (or group key). */
  shelve(deviceId: string, until: number, now: number, ctx: TransformContext): ProducedRecord[] {
    const s = this.seriesOf(deviceId);
    const transition = shelve(s.alarm, until, now);
    if (!transition) throw new TidegateError('ERR_USAGE', `alarm ${this.rule}/${deviceId} is not shelved`);
    this.table.changed.add(deviceId);
    return [this.record(transition, s, now, this.countersFor(ctx))];
  }

  private seriesOf(deviceId: string): Series {
    const s = this.table.get(deviceId);
    if (!s) throw new TidegateError('ERR_USAGE', `rule ${this.rule} tracks no series "${deviceId}" ('tidegate alarms list --all' shows those it does)`);
    return s;
  }

  private judge(key: SeriesKey, reading: PendingReading, value: number, now: number, counters: AlarmCounters): ProducedRecord[] {
    const id = key.deviceId;
    let s = this.table.touch(id);
    if (!s) {
      s = { key, detector: this.detector.initial(now), alarm: initialAlarmState(now), lastSeen: now, value, threshold: 0, readings: [], rule: this.rule, fingerprint: this.fingerprint };
      const added = this.table.add(id, s);
      if (added === 'refused') {
        counters.refused.inc();
        return [];
      }
      if (added.evicted !== null) counters.evicted.inc();
    }
    s.lastSeen = now;
    s.readings.push({ deviceId: reading.deviceId, ts: reading.ts ?? reading.receivedAt, ...(reading.seq !== undefined ? { seq: reading.seq } : {}) });
    if (s.readings.length > MAX_READING_REFS) s.readings.shift();
    const evaluation = this.detector.observe(s.detector, value, now, isRaised(s.alarm));
    this.remember(s, evaluation);
    this.table.changed.add(id);
    return step(s.alarm, evaluation.breach, now, this.timing).map((t) => this.record(t, s, now, counters));
  }

  private remember(s: Series, e: Evaluation): void {
    s.value = e.value;
    s.threshold = e.threshold;
  }

  private record(t: Transition, s: Series, now: number, counters: AlarmCounters): ProducedRecord {
    counters.transition(t);
    return alarmRecord(t, this.facts(s), now);
  }

  private facts(s: Series) {
    return { rule: this.rule, detector: this.detector.kind, severity: this.config.severity, key: s.key, state: s.alarm, value: s.value, threshold: s.threshold, readings: s.readings };
  }

  /** The watched value; a skip reason when the reading has none that can be judged. */
  private valueOf(reading: PendingReading): number | SkipReason {
    const field = this.config.field;
    // A `missing` rule without a field watches the device: any reading counts.
    if (field === undefined) return 0;
    const v = reading.values[field];
    if (v === undefined) return 'no_field';
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v !== 'number' || !Number.isFinite(v)) return 'not_numeric';
    return v;
  }

  private keyOf(reading: PendingReading): SeriesKey | null {
    const field = this.config.field;
    if (!this.config.groupBy) return field === undefined ? { deviceId: reading.deviceId } : { deviceId: reading.deviceId, field };
    const key: SeriesKey = { deviceId: '' };
    const parts: string[] = [];
    for (const tag of this.config.groupBy) {
      const v = reading.tags?.[tag];
      if (v === undefined) return null;
      key[tag] = String(v);
      parts.push(String(v));
    }
    key.deviceId = parts.join(',');
    if (field !== undefined) key.field = field;
    return key;
  }

  /** Creates the rule's counters (at start, so every series exists before the first transition). */
  countersFor(ctx: Pick<TransformContext, 'metrics'>): AlarmCounters {
    return (this.counters ??= new AlarmCounters(ctx.metrics, this.rule, this.config.severity));
  }
}

/** A saved series, or null when the entry is not one (damaged, or written by an incompatible version). */
function readSeries(value: string): Series | null {
  try {
    const s = JSON.parse(value) as Partial<Series> | null;
    if (!s || typeof s !== 'object' || typeof s.key?.deviceId !== 'string' || typeof s.alarm?.phase !== 'string' || !Array.isArray(s.readings)) return null;
    return s as Series;
  } catch {
    return null;
  }
}

function globToPattern(glob: string): string {
  return glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
}
