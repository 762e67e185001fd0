/**
 * Disconnect storms: at planned times, a share of the connections is dropped
 * at once (sockets destroyed, no DISCONNECT), as when a switch reboots or an
 * uplink flaps. Clients reconnect on their own; QoS>0 publishes in flight are
 * resent by mqtt.js, which is where duplicates in the stream come from.
 */
import { rngFor } from '../model/random.js';
import type { StormPlan } from './settings.js';

/** Storm times (ms since start) before `endMs`, in order; bounded by `max`. */
export function stormTimes(plans: readonly StormPlan[], endMs: number, max = 10_000): number[] {
  const out: number[] = [];
  for (const p of plans) {
    for (let k = 0; k < p.times && out.length < max; k++) {
      const t = p.atMs + k * (p.everyMs ?? 0);
      if (t >= endMs) break;
      out.push(t);
      if (p.everyMs === undefined) break;
    }
  }
  return out.sort((a, b) => a - b);
}

/** Which connections storm number `n` drops: a seeded sample of round(fraction × total), at least one. */
export function stormVictims(seed: number, n: number, total: number, fraction: number): number[] {
  const k = Math.min(total, Math.max(1, Math.round(fraction * total)));
  const rng = rngFor(seed, 'storm', String(n));
  const pool = Array.from({ length: total }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (total - i));
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
}

export interface StormRunner {
  stop(): void;
}

/** Fires each storm at its time; `disrupt` gets the connections to drop. */
export function runStorms(
  plans: readonly StormPlan[],
  opts: { seed: number; connections: number; endMs: number; startedAt: number; now: () => number },
  disrupt: (conns: number[]) => void,
): StormRunner {
  // Fractions per time: several plans may share a time; each storm is drawn on its own.
  const events = plans.flatMap((p) => stormTimes([p], opts.endMs).map((t) => ({ t, fraction: p.fraction }))).sort((a, b) => a.t - b.t);
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const e = events[i];
    if (!e) return;
    timer = setTimeout(() => {
      disrupt(stormVictims(opts.seed, i, opts.connections, e.fraction));
      i++;
      arm();
    }, Math.max(0, e.t - (opts.now() - opts.startedAt)));
  };
  arm();
  return { stop: () => clearTimeout(timer) };
}
