'use strict';
// Preloaded into a benchmark's gateway (node --require) when TIDEGATE_BENCH_ALLOC_PROFILE_DIR is set: the
// first SIGUSR2 starts V8's sampling heap profiler, counting objects the garbage collector has already
// freed too (what a reading allocates, not only what it keeps); the second stops it and writes the
// profile as <dir>/alloc-<pid>-<n>.heapprofile (Chrome DevTools opens it; bench/alloc-profile.ts sums it).
// TIDEGATE_BENCH_ALLOC_SURVIVORS=1 leaves out what young-generation collections freed: the profile is then
// of what outlived them (promoted to the old space, or still live at the end), the objects that set what a
// scavenge copies and how soon the old space fills and is marked again.
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.TIDEGATE_BENCH_ALLOC_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  let sampling = false;
  let written = 0;
  process.on('SIGUSR2', () => {
    if (!sampling) {
      sampling = true;
      session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.TIDEGATE_BENCH_ALLOC_SURVIVORS !== '1' });
      return;
    }
    sampling = false;
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (err) return process.stderr.write(`alloc-sampling: ${err.message}\n`);
      const file = path.join(dir, `alloc-${process.pid}-${++written}.heapprofile`);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
      fs.renameSync(`${file}.tmp`, file);
    });
  });
}
