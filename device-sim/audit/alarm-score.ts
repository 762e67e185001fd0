/**
 * Scores alarms against the ground truth of injected anomalies.
 *
 * Matching: a raise of device D on field F at time t is a candidate for a
 * truth interval of D whose field is F (or either side names no field: a
 * dropout silences the whole device, and a device-level alarm such as
 * "silent" names no field) when start <= t <= end + tolerance. Nothing is
 * matched before start: the first anomalous reading is the earliest a
 * detector can see. A raise with several candidates goes to the one that
 * started last before it (the most recent anomaly). Then:
 *  - a truth interval is detected when at least one raise went to it; its
 *    detection latency is the first such raise's time - start;
 *  - flaps of an interval: raises that went to it beyond the first;
 *  - a raise with no candidate is a false positive;
 *  - precision = raises that went to some interval / all raises (a flap is a
 *    real anomaly raised again: it costs in flaps, not in precision);
 *  - recall = detected intervals / all intervals, overall and per kind.
 * Percentiles are nearest-rank (the same definition as the rest of the audit).
 */
import type { TruthRecord } from '../anomalies/truth.js';
import type { AnomalyKind } from '../scenario/schema-anomalies.js';
import { percentile } from '../stats.js';
import type { AlarmEvent } from './alarm-records.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface KindScore {
  episodes: number;
  detected: number;
  recall: number | null;
  latencyMs: LatencySummary | null;
  flaps: number;
  flapsPerEpisode: number | null;
}

export interface MissedEpisode {
  episodeId: string;
  device: string;
  field: string | null;
  kind: AnomalyKind;
  start: number;
  end: number;
}

export interface AlarmScore {
  toleranceMs: number;
  episodes: number;
  detected: number;
  raises: number;
  matchedRaises: number;
  falsePositives: number;
  precision: number | null;
  recall: number | null;
  latencyMs: LatencySummary | null;
  /** Raises beyond the first per detected episode, summed; per episode = flaps / detected. */
  flaps: number;
  flapsPerEpisode: number | null;
  maxFlaps: number;
  byKind: Partial<Record<AnomalyKind, KindScore>>;
  /** Up to `listLimit` of each, for finding out why. */
  missed: MissedEpisode[];
  falsePositiveRaises: AlarmEvent[];
}

function latency(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] as number };
}

const ratioOf = (a: number, b: number): number | null => (b === 0 ? null : a / b);

export function scoreAlarms(truth: readonly TruthRecord[], raises: readonly AlarmEvent[], toleranceMs: number, listLimit = 50): AlarmScore {
  const byDevice = new Map<string, number[]>();
  truth.forEach((t, i) => {
    const list = byDevice.get(t.device) ?? [];
    list.push(i);
    byDevice.set(t.device, list);
  });
  const assigned: number[][] = truth.map(() => []);
  const falsePositiveRaises: AlarmEvent[] = [];
  let falsePositives = 0;
  for (const r of raises) {
    let best = -1;
    for (const i of byDevice.get(r.deviceId) ?? []) {
      const t = truth[i] as TruthRecord;
      if (t.field !== null && r.field !== null && t.field !== r.field) continue;
      if (r.at < t.start || r.at > t.end + toleranceMs) continue;
      if (best < 0 || t.start > (truth[best] as TruthRecord).start) best = i;
    }
    if (best >= 0) (assigned[best] as number[]).push(r.at);
    else {
      falsePositives++;
      if (falsePositiveRaises.length < listLimit) falsePositiveRaises.push(r);
    }
  }

  const kinds = new Map<AnomalyKind, { episodes: number; detected: number; latencies: number[]; flaps: number }>();
  const latencies: number[] = [];
  const missed: MissedEpisode[] = [];
  let detected = 0;
  let flaps = 0;
  let maxFlaps = 0;
  truth.forEach((t, i) => {
    const k = kinds.get(t.kind) ?? { episodes: 0, detected: 0, latencies: [], flaps: 0 };
    kinds.set(t.kind, k);
    k.episodes++;
    const times = assigned[i] as number[];
    if (times.length === 0) {
      if (missed.length < listLimit) missed.push({ episodeId: t.episodeId, device: t.device, field: t.field, kind: t.kind, start: t.start, end: t.end });
      return;
    }
    detected++;
    k.detected++;
    const first = Math.min(...times);
    latencies.push(first - t.start);
    k.latencies.push(first - t.start);
    flaps += times.length - 1;
    k.flaps += times.length - 1;
    maxFlaps = Math.max(maxFlaps, times.length - 1);
  });

  const byKind: AlarmScore['byKind'] = {};
  for (const [kind, k] of kinds) {
    byKind[kind] = {
      episodes: k.episodes,
      detected: k.detected,
      recall: ratioOf(k.detected, k.episodes),
      latencyMs: latency(k.latencies),
      flaps: k.flaps,
      flapsPerEpisode: ratioOf(k.flaps, k.detected),
    };
  }
  const matchedRaises = raises.length - falsePositives;
  return {
    toleranceMs,
    episodes: truth.length,
    detected,
    raises: raises.length,
    matchedRaises,
    falsePositives,
    precision: ratioOf(matchedRaises, raises.length),
    recall: ratioOf(detected, truth.length),
    latencyMs: latency(latencies),
    flaps,
    flapsPerEpisode: ratioOf(flaps, detected),
    maxFlaps,
    byKind,
    missed,
    falsePositiveRaises,
  };
}
