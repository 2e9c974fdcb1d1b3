/**
 * Preload for profiling a bench run: event-loop delay and GC pauses of one process,
 * written to `$SS_PROFILE_DIR/<pid>.loop.txt` (default /tmp) when it exits.
 *
 *   SS_NODE_ARGS='-r ./test/dist/bench/preload/loop-stats.js' node test/dist/bench/pipeline.js latency
 *
 * GC durations are wall time: on a busy 2-core machine they include waiting for a core.
 */
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const gcs: { kind: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) gcs.push({ kind: e.detail?.kind ?? 0, ms: e.duration });
}).observe({ entryTypes: ['gc'] });

const KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak callbacks' };
const ms = (ns: number): string => (ns / 1e6).toFixed(1);

let written = false;
function write(): void {
  if (written) return;
  written = true;
  const lines = [
    process.argv.slice(1).join(' '),
    `event-loop delay, ms: p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} p99.9 ${ms(delay.percentile(99.9))} max ${ms(delay.max)}`,
  ];
  for (const [kind, name] of Object.entries(KINDS)) {
    const d = gcs.filter((g) => g.kind === Number(kind)).map((g) => g.ms).sort((a, b) => a - b);
    if (d.length === 0) continue;
    const q = (p: number): string => (d[Math.min(d.length - 1, Math.floor(p * d.length))] ?? 0).toFixed(1);
    lines.push(`gc ${name}: ${d.length}, total ${d.reduce((a, b) => a + b, 0).toFixed(0)} ms, p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)} ms`);
  }
  lines.push(getHeapSpaceStatistics().filter((x) => /new|old/.test(x.space_name))
    .map((x) => `${x.space_name} ${(x.space_size / 1e6).toFixed(1)} MB (used ${(x.space_used_size / 1e6).toFixed(1)})`).join('; '));
  const dir = process.env.SS_PROFILE_DIR ?? '/tmp';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${process.pid}.loop.txt`), lines.join('\n') + '\n');
}
process.on('exit', write);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.prependListener(sig, write);
