import type { Conservation, LedgerDelta } from './types.js';

export type { LedgerDelta };

export function emptyConservation(): Conservation {
  return { received: 0, delivered: 0, buffered: 0, bufferedBytes: 0, deadLettered: {}, dropped: {}, filtered: 0, consumed: 0, produced: 0 };
}

export const sumReasons = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);

/**
 * `(received + produced) - (delivered + buffered + deadLettered + dropped + filtered + consumed)`: zero when
 * nothing is unaccounted for. Records transforms produced enter like received ones.
 */
export function conservationGap(c: Conservation): number {
  return c.received + c.produced - (c.delivered + c.buffered + sumReasons(c.deadLettered) + sumReasons(c.dropped) + c.filtered + c.consumed);
}

export function parseConservation(text: string | undefined): Conservation | null {
  if (!text) return null;
  try {
    const c = JSON.parse(text) as Partial<Conservation>;
    return { ...emptyConservation(), ...c, deadLettered: { ...(c.deadLettered ?? {}) }, dropped: { ...(c.dropped ?? {}) } };
  } catch {
    return null;
  }
}

export function addReason(m: Record<string, number>, reason: string, n = 1): void {
  m[reason] = (m[reason] ?? 0) + n;
}


export function applyDelta(ledger: Conservation, d: LedgerDelta, sign: 1 | -1 = 1): void {
  ledger.received += sign * (d.received ?? 0);
  ledger.delivered += sign * (d.delivered ?? 0);
  ledger.buffered += sign * (d.buffered ?? 0);
  ledger.bufferedBytes += sign * (d.bufferedBytes ?? 0);
  ledger.filtered += sign * (d.filtered ?? 0);
  ledger.consumed += sign * (d.consumed ?? 0);
  ledger.produced += sign * (d.produced ?? 0);
  for (const [k, v] of Object.entries(d.deadLettered ?? {})) addReason(ledger.deadLettered, k, sign * v);
  for (const [k, v] of Object.entries(d.dropped ?? {})) addReason(ledger.dropped, k, sign * v);
}

/** Two deltas as one (for a write that carries its own counts plus the caller's). */
export function mergeDelta(a: LedgerDelta, b: LedgerDelta | undefined): LedgerDelta {
  if (!b) return a;
  const out: LedgerDelta = { ...a };
  for (const key of ['received', 'delivered', 'buffered', 'bufferedBytes', 'filtered', 'consumed', 'produced'] as const) {
    if (b[key] !== undefined) out[key] = (a[key] ?? 0) + b[key];
  }
  for (const key of ['deadLettered', 'dropped'] as const) {
    if (!b[key]) continue;
    const merged = { ...(a[key] ?? {}) };
    for (const [k, v] of Object.entries(b[key])) addReason(merged, k, v);
    out[key] = merged;
  }
  return out;
}
