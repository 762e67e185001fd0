/**
 * Applies a device's anomaly episodes to its readings as they are made. The
 * engine asks, per due reading, whether the device is silent (dropout), then
 * lets the active episodes change the generated values:
 *   spike  +magnitude on `readings` consecutive readings from the start
 *   step   +magnitude for the whole episode
 *   drift  +magnitude × elapsed / duration (a ramp from 0 to magnitude)
 *   stuck  the field repeats the last value it sent before the episode
 *   noise  + gaussian noise with standard deviation magnitude, or (with factor)
 *          the deviation from the field's recent mean (an exponential moving
 *          average of its generated values) times sqrt(factor), which
 *          multiplies the short-term variance by factor
 * Values are not clamped to the generator's min/max (an anomaly may leave the
 * plausible range: that is often what a detector looks for), but are rounded
 * like the field. Each finished episode goes to the truth sink.
 */
import type { GeneratorSpec } from '../scenario/schema-generators.js';
import type { Value } from '../model/generators.js';
import { gaussian, rngFor, type Rng } from '../model/random.js';
import type { AnomalyKind } from '../scenario/schema-anomalies.js';
import type { Episode } from './plan.js';
import type { TruthSink } from './truth.js';

interface Live {
  ep: Episode;
  /** Device ts of the first and last affected reading; undefined until one is affected. */
  first: number | undefined;
  last: number;
  affected: number;
  frozen: number | undefined;
  noise: Rng | undefined;
}

/** Weight of a new reading in the recent mean: about the last 10 readings. */
const BASELINE_ALPHA = 0.1;

export class DeviceAnomalies {
  private readonly pending: Episode[];
  private readonly live: Live[] = [];
  /** Last value sent per field that a stuck episode may freeze. */
  private readonly lastSent = new Map<string, number>();
  private readonly rounding = new Map<string, number>();
  /** Recent mean of the generated (unchanged) values, per field a variance-factor noise needs. */
  private readonly baseline = new Map<string, number>();
  /** Episodes written to the truth sink, by kind. */
  readonly finished = new Map<AnomalyKind, number>();

  constructor(
    readonly deviceId: string,
    episodes: readonly Episode[],
    fields: Readonly<Record<string, GeneratorSpec>>,
    private readonly seed: number,
    private readonly truth: TruthSink,
  ) {
    this.pending = [...episodes].sort((a, b) => b.startMs - a.startMs); // popped from the end: earliest first
    for (const e of episodes) {
      const spec = e.field === null ? undefined : fields[e.field];
      const round = spec && 'round' in spec ? spec.round : undefined;
      if (e.field !== null && round !== undefined) this.rounding.set(e.field, 10 ** round);
      if (e.kind === 'stuck' && e.field !== null) this.lastSent.set(e.field, NaN);
      if (e.kind === 'noise' && e.factor !== undefined && e.field !== null) this.baseline.set(e.field, NaN);
    }
  }

  /** Moves episodes that have started by `dueMs` into the live set and closes those that are over. */
  private advance(dueMs: number): void {
    for (let i = this.live.length - 1; i >= 0; i--) {
      const l = this.live[i] as Live;
      if (dueMs >= l.ep.endMs || l.affected >= l.ep.readings) {
        this.live.splice(i, 1);
        this.close(l);
      }
    }
    while (this.pending.length > 0 && (this.pending[this.pending.length - 1] as Episode).startMs <= dueMs) {
      const ep = this.pending.pop() as Episode;
      if (dueMs >= ep.endMs) continue; // shorter than the gap between two readings: nothing to inject
      const frozen = ep.kind === 'stuck' && ep.field !== null ? this.lastSent.get(ep.field) : undefined;
      this.live.push({
        ep,
        first: undefined,
        last: 0,
        affected: 0,
        frozen: frozen !== undefined && !Number.isNaN(frozen) ? frozen : undefined,
        noise: ep.kind === 'noise' ? rngFor(this.seed, this.deviceId, 'anomaly-noise', ep.id) : undefined,
      });
    }
  }

  private touch(l: Live, ts: number): void {
    if (l.first === undefined) l.first = ts;
    l.last = ts;
    l.affected++;
  }

  /** true: the device sends nothing for the reading due at `dueMs` (whose ts would have been `ts`). */
  silent(dueMs: number, ts: number): boolean {
    this.advance(dueMs);
    let silent = false;
    for (const l of this.live) {
      if (l.ep.kind !== 'dropout') continue;
      this.touch(l, ts);
      silent = true;
    }
    return silent;
  }

  /** Changes the reading's values in place. */
  apply(values: Record<string, Value>, dueMs: number, ts: number): void {
    this.advance(dueMs);
    const raw = this.baseline.size > 0 ? [...this.baseline.keys()].map((f) => values[f]) : undefined;
    for (const l of this.live) {
      const { ep } = l;
      if (ep.field === null) continue;
      const v = values[ep.field];
      if (typeof v !== 'number') continue;
      let out = v;
      switch (ep.kind) {
        case 'spike':
        case 'step':
          out = v + ep.magnitude;
          break;
        case 'drift':
          out = v + (ep.magnitude * (dueMs - ep.startMs)) / (ep.endMs - ep.startMs);
          break;
        case 'stuck':
          if (l.frozen === undefined) l.frozen = v;
          out = l.frozen;
          break;
        case 'noise':
          if (ep.factor === undefined) out = v + ep.magnitude * gaussian(l.noise as Rng);
          else {
            const mean = this.baseline.get(ep.field) as number;
            out = Number.isNaN(mean) ? v : mean + (v - mean) * Math.sqrt(ep.factor);
          }
          break;
        case 'dropout':
          continue;
      }
      const scale = this.rounding.get(ep.field);
      values[ep.field] = scale === undefined || ep.kind === 'stuck' ? out : Math.round(out * scale) / scale;
      this.touch(l, ts);
    }
    for (const f of this.lastSent.keys()) {
      const v = values[f];
      if (typeof v === 'number') this.lastSent.set(f, v);
    }
    if (raw) {
      let i = 0;
      for (const [f, mean] of this.baseline) {
        const r = raw[i++];
        if (typeof r === 'number') this.baseline.set(f, Number.isNaN(mean) ? r : mean + BASELINE_ALPHA * (r - mean));
      }
    }
  }

  private close(l: Live): void {
    if (l.first === undefined) return; // never touched a reading: nothing was injected
    const { ep } = l;
    this.truth.write({
      device: this.deviceId,
      field: ep.field,
      kind: ep.kind,
      start: l.first,
      end: l.last,
      magnitude: ep.kind === 'stuck' || ep.kind === 'dropout' || ep.factor !== undefined ? null : ep.magnitude,
      ...(ep.factor !== undefined ? { factor: ep.factor } : {}),
      episodeId: ep.id,
      readings: l.affected,
    });
    this.finished.set(ep.kind, (this.finished.get(ep.kind) ?? 0) + 1);
  }

  /** The run is over: writes every episode that affected something, ended or not. */
  closeAll(): void {
    for (const l of this.live.splice(0)) this.close(l);
    this.pending.length = 0;
  }
}
