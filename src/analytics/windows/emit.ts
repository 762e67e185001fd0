import type { JsonValue, Reading } from '../../normalize/reading.js';
import type { PendingReading } from '../../buffer/types.js';
import type { ProducedRecord } from '../../pipeline/transform.js';
import { results, type WindowAcc } from './aggregates.js';
import type { KeyState, OpenWindow } from './key-state.js';
import type { WindowConfig } from './schema.js';

/** Why a window closed: its watermark passed its end, it filled (count), or early: idle key, bound, stop. */
export type ClosedBy = 'watermark' | 'full' | 'idle' | 'bound' | 'stop';

export interface AggregateShape {
  readonly name: string;
  readonly topic: string;
  readonly config: WindowConfig;
}

/**
 * The record a closed window becomes. Readings have no buffer id yet while transforms run, so the trace back
 * is per source device: its own `seq` range (when it sends one) and its event-time range in the window.
 */
export function aggregateRecord(shape: AggregateShape, state: KeyState, window: OpenWindow, acc: WindowAcc, closedBy: ClosedBy, now: number): ProducedRecord {
  const { config } = shape;
  const { values, approximate } = results(acc, config.fields, config.aggregates);
  // A window where no configured aggregate has a value (rate over one instant) still says how many it took.
  if (Object.keys(values).length === 0) values.count = acc.count;
  const byCount = config.kind === 'count';
  const start = byCount ? acc.minT : window.start;
  const end = byCount ? acc.maxT : window.end;
  const sources: JsonValue[] = Object.keys(acc.sources)
    .sort()
    .map((deviceId) => ({ deviceId, ...acc.sources[deviceId]! }));
  const reading: Reading = {
    deviceId: groupLabel(state),
    topic: shape.topic,
    ts: end,
    receivedAt: now,
    values,
    result: {
      rule: shape.name,
      window: { kind: config.kind, start, end, ...(byCount ? { index: window.start / (config.slide ?? config.count!) } : {}) },
      key: { ...state.key },
      count: acc.count,
      sources,
      closedBy,
      ...(closedBy === 'idle' || closedBy === 'bound' || closedBy === 'stop' ? { early: true } : {}),
      ...(approximate ? { approximate: true } : {}),
      ...(state.droppedUpTo !== undefined && window.start <= state.droppedUpTo && !byCount ? { incomplete: true } : {}),
    },
  };
  return { kind: 'aggregate', lane: 'telemetry', reading };
}

/** The aggregate's device id: the key's values joined, so Kinesis partitions a key's aggregates together. */
export function groupLabel(state: KeyState): string {
  return Object.values(state.key).map(String).join('/');
}

/** A late reading, kept in the stream marked as such instead of being dropped. */
export function lateCopy(shape: AggregateShape, reading: PendingReading, t: number, watermark: number, tags: Record<string, boolean>): ProducedRecord {
  const { lane, ...rest } = reading;
  return {
    kind: 'derived',
    lane: lane ?? 'telemetry',
    reading: { ...rest, tags: { ...reading.tags, ...tags }, result: { rule: shape.name, late: { window: shape.config.kind, eventTime: t, watermark } } },
  };
}
