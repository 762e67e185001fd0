import type { Clock } from '../../core/clock.js';
import { TidegateError } from '../../core/errors.js';
import type { ProducedRecord, Transform, TransformContext } from '../../pipeline/transform.js';
import { DetectTransform, type AlarmView } from './detect-transform.js';

/** What the service needs from admission: operator changes committed in turn, and a committed view. */
export interface AlarmAdmission {
  operate(transform: Transform, op: () => readonly ProducedRecord[]): Promise<unknown>;
  committedView<T>(read: () => T): Promise<T>;
}

/** An alarm as `tidegate alarms list` prints it (the record is left out). */
export type AlarmSummary = Omit<AlarmView, 'record'>;

/**
 * The alarm rules of the running gateway, for operators and the local notification: lists their alarms, and
 * acknowledges or shelves one through admission, so the change is committed (with the alarm record it makes)
 * like any transition and survives a restart.
 */
export class AlarmService {
  private readonly rules = new Map<string, DetectTransform>();

  constructor(
    transforms: readonly Transform[],
    private readonly admission: AlarmAdmission,
    private readonly ctx: TransformContext,
    private readonly clock: Clock = ctx.clock,
  ) {
    for (const t of transforms) {
      if (!(t instanceof DetectTransform)) continue;
      if (this.rules.has(t.rule)) throw new TidegateError('ERR_CONFIG_INVALID', `two detect transforms use the rule name "${t.rule}"; alarm rule names must be unique`);
      this.rules.set(t.rule, t);
      t.countersFor(ctx);
    }
  }

  get ruleNames(): string[] {
    return [...this.rules.keys()];
  }

  /** The raised (and shelved) alarms, or every tracked series with `all`, as committed. */
  async list(options: { rule?: string; all?: boolean } = {}): Promise<AlarmSummary[]> {
    const rules = options.rule !== undefined ? [this.rule(options.rule)] : [...this.rules.values()];
    const views = await this.admission.committedView(() => rules.flatMap((r) => r.alarms({ all: options.all === true })));
    return views.map(({ record: _record, ...summary }) => summary);
  }

  /** The raised alarms with the record of their standing, as committed (for republishing at start). */
  async active(): Promise<AlarmView[]> {
    return this.admission.committedView(() => [...this.rules.values()].flatMap((r) => r.alarms()).filter((a) => a.raisedAt !== null));
  }

  async acknowledge(rule: string, deviceId: string): Promise<{ acknowledged: string }> {
    const t = this.rule(rule);
    await this.admission.operate(t, () => t.acknowledge(deviceId, this.clock.now(), this.ctx));
    return { acknowledged: `${rule}/${deviceId}` };
  }

  /** Shelves until `until` (epoch ms); a time not after now unshelves. */
  async shelve(rule: string, deviceId: string, until: number): Promise<{ shelved: string; until: number | null }> {
    const t = this.rule(rule);
    const now = this.clock.now();
    await this.admission.operate(t, () => t.shelve(deviceId, until, now, this.ctx));
    return { shelved: `${rule}/${deviceId}`, until: until > now ? until : null };
  }

  private rule(name: string): DetectTransform {
    const t = this.rules.get(name);
    if (!t) throw new TidegateError('ERR_USAGE', `no alarm rule "${name}" (configured: ${this.ruleNames.join(', ') || 'none'})`);
    return t;
  }
}
