/**
 * Preload for profiling a bench run: a sampling heap profile of everything one process
 * ALLOCATES (objects the GC already collected included, unlike `--heap-prof`), written
 * to `$SS_PROFILE_DIR/<pid>.heapprofile` (default /tmp) when it exits. Open it in Chrome
 * DevTools (Memory tab) or sum `selfSize` per call frame.
 *
 *   SS_NODE_ARGS='-r ./test/dist/bench/preload/alloc-profile.js' BENCH_CONTENDERS=solvestream node test/dist/bench/pipeline.js throughput
 *
 * SS_ALLOC_SURVIVORS=1 drops the samples a young-generation GC collected. Not a list of
 * survivors: a full GC collects young objects too, and those stay in, so short-lived
 * objects that died just before a full GC show as well. For what survives scavenges,
 * `--trace-gc-nvp` (`new_space_survived`, `promoted` per scavenge) is exact.
 */
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16_384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: process.env.SS_ALLOC_SURVIVORS !== '1',
} as Record<string, unknown>);

let written = false;
function write(): void {
  if (written) return;
  written = true;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) return;
    const dir = process.env.SS_PROFILE_DIR ?? '/tmp';
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${process.pid}.heapprofile`), JSON.stringify(r.profile));
  });
}
process.on('exit', write);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.prependListener(sig, write);
