import { describe, expect, it } from 'vitest';
import { summarizeCpu } from '../../bench/cpu-profile.js';

const frame = (id: number, functionName: string, url = '', lineNumber = 0) => ({ id, callFrame: { functionName, url, lineNumber } });

// Samples 1 ms apart (timeDeltas in µs): idle, then aedes, admission, a collection, aedes, idle, admission.
const profile = {
  startTime: 0,
  nodes: [
    frame(1, '(root)'),
    frame(2, '(idle)'),
    frame(3, '(garbage collector)'),
    frame(4, 'handle', 'file:///app/node_modules/aedes/lib/handlers/index.js', 9),
    frame(5, 'admitBatch', 'file:///app/dist/src/admission.js', 108),
  ],
  samples: [2, 4, 5, 3, 4, 2, 5],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('the CPU profile summary (bench/cpu-profile.ts)', () => {
  it('splits busy from idle time and gives self time by package, by function and for garbage collection', () => {
    const s = summarizeCpu(profile);
    expect(s.busyMs).toBe(5);
    expect(s.idleMs).toBe(2);
    expect(s.byOwner).toEqual([
      ['aedes', 2000],
      ['src/admission.js', 2000],
      ['(garbage collection)', 1000],
    ]);
    expect(s.byFunction[0]).toEqual(['handle aedes:10', 2000]);
    expect(s.byFunction).toContainEqual(['admitBatch src/admission.js:109', 2000]);
  });

  it('keeps only the samples within the span asked for', () => {
    // 2.5 ms to 4.5 ms after the start holds the samples at 3 ms and 4 ms: admission and the collection.
    const s = summarizeCpu(profile, { fromMs: 2.5, toMs: 4.5 });
    expect(s.busyMs).toBe(2);
    expect(s.idleMs).toBe(0);
    expect(Object.fromEntries(s.byOwner)).toEqual({ 'src/admission.js': 1000, '(garbage collection)': 1000 });
  });
});
