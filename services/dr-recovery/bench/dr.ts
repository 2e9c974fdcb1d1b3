/**
 * dr-recovery benchmark: RPO (archive lag at a steady task rate) and RTO (restore time of
 * a 100,000-task archive). Printed, never asserted.
 *
 *   npm run bench -w @solvestream/dr-recovery
 *   BENCH_RATE=2000 BENCH_SECONDS=20 BENCH_TASKS=100000 (defaults) to change the load;
 *   BENCH_KEEP=1 keeps the archive directory (its path is printed)
 *
 * Setup: a private redis-server with AOF (everysec); the archiver (ArchiveWriter +
 * DrService, exactly what main.ts runs, minus the ops server) in its own process; a load
 * generator doing what producers and workers do to Redis, through the same Lua
 * transitions: submit (projection + event + lane entry), XREADGROUP, claim, checkpoint,
 * and ~1 s later complete (result + event + XACK/XDEL) — six archived entries per task.
 *
 * RPO: for 20 s at 2,000 tasks/s, the lag of every batch the archiver fsyncs: now minus the
 * id time of the batch's OLDEST entry, so every entry of the batch waited at most that
 * long (the entry-weighted figure counts each batch once per entry it carried).
 * RTO: the load then tops the archive up to 100,000 tasks at full speed; once it has caught
 * up, `restore()` (what `dr restore` runs) rebuilds them into an empty redis-server.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startRedis, waitFor } from '@solvestream/testkit';
import { ensureWorkerGroups, flattenReadReply, keyspace, decodeTaskEntry, Transitions, type TaskEntry } from '@solvestream/contracts';
import { createLogger } from '@solvestream/core';
import { archiveStatus, ArchiveWriter, DrService, readArchive, restore } from '../src';

const keys = keyspace();
const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ── the archiver (child process) ────────────────────────────────────────────────────

interface ArchiverStats { batches: [number, number][]; entries: number }

async function archiver(url: string, dir: string): Promise<void> {
  const writer = ArchiveWriter.open({ dir, prefix: 'ss', partition: 'p0' });
  const batches: [number, number][] = [];
  let measuring = true;
  const svc = new DrService({
    redis: new Redis(url), reader: new Redis(url), keys, writer, logger: createLogger({ service: 'bench', level: 'silent' }),
    mode: 'manual', instance: 'bench', onBatch: (n, lag) => { if (measuring) batches.push([n, lag]); },
  });
  await svc.start();
  process.send?.('ready');
  process.on('message', (m) => {
    if (m === 'measured') {
      measuring = false;
      process.send?.({ batches, entries: svc.archived } satisfies ArchiverStats);
    }
    if (m === 'stop') void svc.close().then(() => process.exit(0));
  });
}

// ── the load (parent) ────────────────────────────────────────────────────────────────

interface Load {
  submitted: number;
  completed: number;
  /** Waits for the submits; then for every task to finish (`drain`), or leaves the ones in flight unfinished. */
  stop(drain?: boolean): Promise<void>;
}

/**
 * Submits `rate` tasks/s (Infinity: as fast as 64 concurrent submitters go) until `total`,
 * and works them off like a worker fleet: read, claim, checkpoint, complete after ~1 s.
 */
function startLoad(url: string, rate: number, total: number, offset: number): Load {
  const cmd = new Redis(url, { enableAutoPipelining: true });
  const blocking = new Redis(url);
  const tr = new Transitions(cmd, keys);
  const s: Load = { submitted: 0, completed: 0, stop: async () => undefined };
  let done = false;
  let abandon = false;
  const entry = (i: number): TaskEntry => ({
    taskId: `t${offset + i}`, type: 'turnstile', tenant: 'acme', priority: 'normal', attempt: 1, submittedAt: Date.now(),
    deadline: Date.now() + 3_600_000, trace: {}, params: { websiteURL: `https://shop${i % 97}.example.com/login`, websiteKey: '0x4AAAAAAABS7vwvV6VFfMcD' },
  });
  const t0 = Date.now();
  const submitter = (async () => {
    const inflight = new Set<Promise<unknown>>();
    while (!done && s.submitted < total) {
      const due = Number.isFinite(rate) ? Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate)) : s.submitted + 64;
      while (s.submitted < Math.min(due, total) && inflight.size < 2000) {
        const p = tr.submit({ entry: entry(s.submitted++), now: Date.now() }).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (Number.isFinite(rate)) await sleep(5);
      else await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();
  const working = new Set<Promise<unknown>>();
  const worker = (async () => {
    while (!done) {
      const reply = await blocking.xreadgroup('GROUP', 'workers', 'bench', 'COUNT', 1000, 'BLOCK', 50, 'STREAMS', keys.lane('normal'), '>');
      for (const e of flattenReadReply(reply)) {
        const d = e.fields ? decodeTaskEntry(e.fields) : undefined;
        if (!d?.ok) continue;
        const t = d.value;
        const job = (async () => {
          await tr.claim({ entry: t, entryId: e.id, consumer: 'bench', now: Date.now() });
          await tr.checkpoint({ taskId: t.taskId, provider: 'sim', providerTaskId: `p-${t.taskId}`, attempt: 1, consumer: 'bench', now: Date.now() });
          await sleep(1000); // the solve
          if (abandon) return;
          await tr.complete({
            result: { taskId: t.taskId, outcome: 'solved', tenant: t.tenant, type: t.type, attempt: 1, completedAt: Date.now(), solution: { token: `tok-${t.taskId}` }, provider: 'sim', providerTaskId: `p-${t.taskId}`, trace: {} },
            priority: 'normal', entryId: e.id, consumer: 'bench', now: Date.now(),
          });
          s.completed++;
        })().finally(() => working.delete(job));
        working.add(job);
      }
    }
  })();
  s.stop = async (drain = true) => {
    await submitter;
    if (drain) await waitFor('the load worked off', () => s.completed >= s.submitted || undefined, { timeoutMs: 120_000, intervalMs: 50 }).catch(() => undefined);
    else abandon = true;
    done = true;
    await worker;
    await Promise.all(working);
    cmd.disconnect();
    blocking.disconnect();
  };
  return s;
}

const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function weightedPct(batches: readonly [number, number][], p: number): number {
  const sorted = [...batches].sort((a, b) => a[1] - b[1]);
  const total = sorted.reduce((n, [k]) => n + k, 0);
  let seen = 0;
  for (const [k, lag] of sorted) { seen += k; if (seen >= (p / 100) * total) return lag; }
  return NaN;
}

function dirBytes(dir: string, files: readonly string[]): number {
  return files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function main(): Promise<void> {
  const rate = num('BENCH_RATE', 2000);
  const seconds = num('BENCH_SECONDS', 20);
  const tasks = num('BENCH_TASKS', 100_000);
  const src = await startRedis({ aof: true });
  const dst = await startRedis({ aof: true });
  const dir = mkdtempSync(join(tmpdir(), 'ss-dr-bench-'));
  const rs = new Redis(src.url);
  const rd = new Redis(dst.url);
  const child = fork(__filename, ['--archiver', src.url, dir], { stdio: 'inherit' });
  try {
    await ensureWorkerGroups(rs, keys);
    await new Promise<void>((r) => child.once('message', () => r()));
    console.log(`dr-recovery bench: ${cpus().length} cores, node ${process.version}, ${(await rs.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?'} redis-server (AOF everysec), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at start`);
    console.log(`command: npm run bench -w @solvestream/dr-recovery   (BENCH_RATE=${rate} BENCH_SECONDS=${seconds} BENCH_TASKS=${tasks})`);

    // RPO
    const steady = Math.round(rate * seconds);
    const t0 = Date.now();
    const load = startLoad(src.url, rate, steady, 0);
    await waitFor('the steady phase', () => load.submitted >= steady || undefined, { timeoutMs: seconds * 1000 * 10, intervalMs: 20 });
    const elapsed = (Date.now() - t0) / 1000;
    const stats = await new Promise<ArchiverStats>((r) => { child.once('message', (m) => r(m as ArchiverStats)); child.send('measured'); });
    const lags = stats.batches.map(([, l]) => l).sort((a, b) => a - b);
    console.log(
      `RPO  archive lag at ${rate} tasks/s target for ${seconds} s: achieved ${(load.submitted / elapsed).toFixed(0)} tasks/s submitted, ` +
      `${(stats.entries / elapsed).toFixed(0)} entries/s archived, ${lags.length} batches (${(stats.entries / Math.max(1, lags.length)).toFixed(0)} entries each)\n` +
      `     per batch (oldest entry): p50 ${pct(lags, 50)} ms  p99 ${pct(lags, 99)} ms  max ${lags.at(-1)} ms;  per entry (upper bound): p99 ${weightedPct(stats.batches, 99)} ms`,
    );
    await load.stop();

    // RTO: top up to `tasks` tasks at full speed, let the archive catch up, restore.
    // (the tasks still in their 1 s solve when the last is submitted stay unfinished: the restore requeues them)
    const fill = startLoad(src.url, Infinity, Math.max(0, tasks - steady), steady);
    await fill.stop(false);
    await waitFor('the archive caught up', async () => Object.values((await archiveStatus(rs, keys, dir)).streams).every((s) => s.behind === 0), { timeoutMs: 120_000, intervalMs: 200 });
    child.send('stop');
    await new Promise((r) => child.once('exit', r));

    const r0 = Date.now();
    const read = readArchive(dir);
    const readMs = Date.now() - r0;
    const report = await restore({ redis: rd, keys, archive: read });
    const total = readMs + report.ms;
    const ph = report.phaseMs;
    const bytes = dirBytes(dir, read.manifest.segments.map((s) => s.file));
    console.log(
      `RTO  restore of ${report.terminal + report.requeued} tasks (${read.entries.length} archived entries, ${(bytes / 1048576).toFixed(1)} MiB in ${read.manifest.segments.length} segments) into an empty redis-server:\n` +
      `     ${total} ms total = read + checksums ${readMs} ms, fold ${ph?.fold} ms, history streams ${ph?.streams} ms, tasks ${ph?.tasks} ms; ` +
      `${report.terminal} finished, ${report.requeued} requeued with their checkpoint, ${report.unrecoverable.length} unrecoverable`,
    );
    console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (other work on the machine inflates every figure)`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rs.disconnect();
    rd.disconnect();
    await Promise.all([src.stop(), dst.stop()]);
    if (process.env.BENCH_KEEP === '1') console.log(`archive kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--archiver') {
  void archiver(process.argv[3] as string, process.argv[4] as string);
} else {
  main().then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
