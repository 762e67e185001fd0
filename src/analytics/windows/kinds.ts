import { emptyAcc, fold, mergeAcc, windowSeed, type FoldInput, type WindowAcc } from './aggregates.js';
import type { KeyState, OpenWindow } from './key-state.js';
import type { WindowConfig } from './schema.js';

/** What a window kind decides; the transform does the rest (watermarks, closing, emitting, bounds, state). */
export interface WindowKind {
  /** Time-based kinds close by watermark; count windows close when full (or early). */
  readonly byTime: boolean;
  /** Whether a reading at `t` can join no open or future window of the key (given its current watermark). */
  isLate(state: KeyState, t: number): boolean;
  /** Folds the reading into its windows (creating them through `open`); returns windows it filled (count). */
  place(state: KeyState, input: FoldInput, open: (state: KeyState, start: number, end: number) => OpenWindow, discard: (state: KeyState, w: OpenWindow) => void): OpenWindow[];
  /** The window's contents when it closes. */
  contents(state: KeyState, window: OpenWindow): WindowAcc;
  /** Drops what no open or future window needs once the watermark moved (sliding logs). */
  prune(state: KeyState): void;
  /** Nominal window length, for the default idle timeout. */
  readonly lengthMs: number;
}

export function windowKind(config: WindowConfig): WindowKind {
  const keep = config.aggregates.some((a) => a.startsWith('p')) ? config.maxValuesPerWindow : 0;
  const wm = (s: KeyState) => s.watermark ?? -Infinity;
  const foldInto = (state: KeyState, w: OpenWindow, input: FoldInput) => fold((w.acc ??= emptyAcc()), input, keep, windowSeed(state.id, w.start));
  const noPrune = () => {};
  const own = (_: KeyState, w: OpenWindow) => w.acc!;

  switch (config.kind) {
    case 'tumbling':
    case 'hopping': {
      const size = config.sizeMs!;
      const hop = config.kind === 'hopping' ? config.hopMs! : size;
      // Windows are aligned to the epoch: [k·hop, k·hop + size). The newest one holding t starts at floor(t/hop)·hop.
      const newestStart = (t: number) => Math.floor(t / hop) * hop;
      return {
        byTime: true,
        lengthMs: size,
        isLate: (s, t) => newestStart(t) + size <= wm(s),
        place(state, input, open) {
          for (let start = newestStart(input.t); start + size > input.t; start -= hop) {
            if (start + size <= wm(state)) break; // this and every older window holding t are closed
            const w = state.windows.find((x) => x.start === start) ?? open(state, start, start + size);
            foldInto(state, w, input);
          }
          return [];
        },
        contents: own,
        prune: noPrune,
      };
    }
    case 'sliding': {
      // One window per distinct reading time a, covering (a − size, a], i.e. [a − size + 1, a + 1) in whole ms.
      const size = config.sizeMs!;
      return {
        byTime: true,
        lengthMs: size,
        // Late once its own window has closed: a reading only later windows could hold would be consumed
        // and then appear in no aggregate when no later reading comes.
        isLate: (s, t) => t + 1 <= wm(s),
        place(state, input, open) {
          (state.log ??= []).push(input);
          const end = input.t + 1;
          if (!state.windows.some((w) => w.end === end)) open(state, end - size, end);
          return [];
        },
        contents(state, w) {
          const acc = emptyAcc();
          for (const entry of state.log ?? []) if (entry.t >= w.start && entry.t < w.end) fold(acc, entry, keep, windowSeed(state.id, w.start));
          return acc;
        },
        prune(state) {
          const w = wm(state);
          if (state.log && state.log.length > 0 && state.log.some((e) => e.t + size <= w)) state.log = state.log.filter((e) => e.t + size > w);
        },
      };
    }
    case 'session': {
      const gap = config.gapMs!;
      const maxLength = config.maxLengthMs ?? Infinity;
      // A session is [first, last + gap), never longer than maxLengthMs; a reading joins every open session its
      // own [t, t + gap) overlaps (merging them), unless the merged session would exceed maxLengthMs.
      const endOf = (acc: WindowAcc) => Math.min(acc.maxT + gap, acc.minT + maxLength);
      return {
        byTime: true,
        lengthMs: gap,
        isLate: (s, t) => t + gap <= wm(s),
        place(state, input, open, discard) {
          const t = input.t;
          const overlapping = state.windows.filter((w) => w.start < t + gap && t < w.end).sort((a, b) => a.start - b.start);
          const spanOk = (ws: OpenWindow[]) => Math.max(t, ...ws.map((w) => w.acc!.maxT)) - Math.min(t, ...ws.map((w) => w.acc!.minT)) < maxLength;
          let target: OpenWindow | undefined;
          if (overlapping.length > 0 && spanOk(overlapping)) {
            target = overlapping[0]!;
            for (const other of overlapping.slice(1)) {
              mergeAcc(target.acc!, other.acc!, keep);
              discard(state, other);
            }
          } else target = overlapping.find((w) => spanOk([w]));
          target ??= open(state, t, t + gap);
          foldInto(state, target, input);
          target.start = target.acc!.minT;
          target.end = endOf(target.acc!);
          return [];
        },
        contents: own,
        prune: noPrune,
      };
    }
    case 'count': {
      const size = config.count!;
      const slide = config.slide ?? size;
      return {
        byTime: false,
        lengthMs: 60_000,
        isLate: () => false,
        place(state, input, open) {
          // Windows close oldest first, so a key with none left has lost its newest too (closed early by the
          // bound): its count starts afresh, or the reading would belong to no window.
          if (state.windows.length === 0 && (state.taken ?? 0) % slide !== 0) state.taken = 0;
          const i = state.taken ?? 0;
          const full: OpenWindow[] = [];
          for (let k = Math.floor(i / slide); k >= 0 && k * slide + size > i; k--) {
            const start = k * slide;
            const w = state.windows.find((x) => x.start === start) ?? (i === start ? open(state, start, start + size) : undefined);
            if (!w) continue; // a window that began before the windows restarted
            foldInto(state, w, input);
            if (i === w.end - 1) full.push(w);
          }
          state.taken = i + 1;
          return full;
        },
        contents: own,
        prune: noPrune,
      };
    }
  }
}
