/**
 * Benchmark: one worker process with 10,000 tasks in flight against the simulator at a
 * 20 s solve time. Prints figures; asserts nothing (timing goals live here, not in tests).
 *
 *   npm run bench                      (from the repo root: builds, then every workspace's bench)
 *   node dist/bench/inflight.js        (from services/worker, after a build)
 *
 * Setup: a private redis-server, one simulator process (reCAPTCHA v2 solve time exactly
 * 20 s, nothing unsolvable), and for each polling mode a fresh worker process
 * (`dist/src/main.js`, production defaults: first poll after 15 s, then every 5 s)
 * reading 10,000 tasks that were queued before it started:
 *
 *   multi       res.php?action=get&ids=… batches (up to 100 ids)
 *   single      PROVIDER_MULTI_GET=false: one request per task per poll (the baseline)
 *   capped      multi with `--max-old-space-size=256`: V8 collects sooner, so RSS shows
 *               what 10,000 tasks in flight need rather than what V8 lets pile up
 *
 * Each mode uses its own API key, so the simulator's per-key counters give the provider
 * HTTP calls of that run. Peak RSS is the worker's VmHWM and CPU is its utime+stime,
 * both from /proc (Linux). Goals (issue 3): peak RSS ≤ 300 MB, ≤ 1.3 provider calls per
 * solved task with batching.
 *
 * Env: BENCH_TASKS (default 10000), BENCH_SOLVE_MS (20000), BENCH_MODES (`multi,single,capped`),
 * BENCH_WORKER_ENV (JSON of extra worker variables, e.g. `{"PROVIDER_CONCURRENCY":"16"}`),
 * BENCH_WORKER_NODE_OPTIONS (e.g. `--max-old-space-size=256`), BENCH_TRACE=1 (a line per
 * sample on stderr: RSS, accepted submits, polls).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import { ensureWorkerGroups, keyspace, Transitions, type TaskEntry } from '@solvestream/contracts';
import { freePort, sleep, spawnService, startRedis, waitFor, type ServiceProcess } from '@solvestream/testkit';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const SOLVE_MS = Number(process.env.BENCH_SOLVE_MS ?? 20_000);
const WORKER_ENTRY = resolve(__dirname, '..', 'src', 'main.js');
const SIM_ENTRY = resolve(__dirname, '..', '..', '..', 'provider-sim', 'dist', 'src', 'main.js');
const RUN_TIMEOUT_MS = 240_000;

interface Mode {
  id: string;
  label: string;
  multiGet: boolean;
  /** 32 letters/digits: the simulator counts per key, so each mode has its own. */
  key: string;
  nodeOptions?: string;
}
const MODES: Mode[] = [
  { id: 'multi', label: 'multi-get (≤100 ids)', multiGet: true, key: 'benchmulti0000000000000000000000' },
  { id: 'single', label: 'one get per task', multiGet: false, key: 'benchsingle000000000000000000000' },
  // The same as `multi` with V8's old space capped: what the process needs, not what V8 keeps.
  { id: 'capped', label: 'multi-get, old space 256 MB', multiGet: true, key: 'benchcapped000000000000000000000', nodeOptions: '--max-old-space-size=256' },
];

interface RunResult {
  mode: Mode;
  solved: number;
  results: number;
  peakInFlight: number;
  allSubmittedS: number;
  wallS: number;
  peakRssMb: number;
  cpuS: number;
  calls: number;
  submits: number;
  polls: number;
  other: number;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a live process, seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** A `VmXXX:  1234 kB` line of /proc/<pid>/status, in MB. */
function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} → ${res.status}`);
  return (await res.json()) as T;
}

type KeyStats = { submits: number; acceptedSubmits: number; polls: number; balanceChecks: number; reportsGood: number; reportsBad: number; charges: number };

async function seed(redis: Redis, prefix: string, n: number): Promise<void> {
  const ks = keyspace({ prefix });
  await ensureWorkerGroups(redis, ks);
  const tr = new Transitions(redis, ks);
  const now = Date.now();
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => {
      const entry: TaskEntry = {
        taskId: `${prefix}-${i + j}`, type: 'recaptcha_v2', tenant: 'bench', priority: 'normal', attempt: 1,
        params: { websiteURL: `https://${prefix}.bench.example/${i + j}`, websiteKey: '6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-' },
        submittedAt: now, deadline: now + 10 * 60_000, trace: {},
      };
      return tr.submit({ entry, now });
    }));
  }
}

async function run(mode: Mode, redisUrl: string, redis: Redis, simUrl: string): Promise<RunResult> {
  const prefix = `b${mode.id}`;
  await seed(redis, prefix, TASKS);
  const ks = keyspace({ prefix });
  const started = Date.now();
  const worker: ServiceProcess = spawnService({
    name: `worker (${mode.label})`,
    entry: WORKER_ENTRY,
    env: {
      REDIS_URL: redisUrl, KEY_PREFIX: prefix, WORKER_ID: `bench-${prefix}`, LOG_LEVEL: 'warn',
      PROVIDER_NAME: 'sim', PROVIDER_URL: simUrl, PROVIDER_KEY: mode.key, PROVIDER_MULTI_GET: String(mode.multiGet),
      WORKER_CONCURRENCY: String(TASKS),
      NODE_OPTIONS: [mode.nodeOptions, process.env.BENCH_WORKER_NODE_OPTIONS].filter(Boolean).join(' ') || undefined,
      ...(JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}') as Record<string, string>),
    },
  });
  let peakInFlight = 0;
  let peakRss = 0;
  let allSubmittedS = NaN;
  let cpu = 0;
  let results = 0;
  try {
    while (Date.now() - started < RUN_TIMEOUT_MS) {
      await sleep(250);
      if (worker.child.exitCode !== null) throw new Error(`worker exited early:\n${worker.lines.slice(-20).join('\n')}`);
      peakRss = Math.max(peakRss, vm(worker.pid, 'VmRSS'));
      const [sim, key] = await Promise.all([
        json<{ tasks: { solving: number } }>(`${simUrl}/admin/stats`),
        json<KeyStats>(`${simUrl}/admin/stats/${mode.key}`),
      ]);
      peakInFlight = Math.max(peakInFlight, sim.tasks.solving);
      if (process.env.BENCH_TRACE) {
        process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)}s rss=${vm(worker.pid, 'VmRSS').toFixed(0)}MB accepted=${key.acceptedSubmits} polls=${key.polls}\n`);
      }
      if (Number.isNaN(allSubmittedS) && key.acceptedSubmits >= TASKS) allSubmittedS = (Date.now() - started) / 1000;
      results = await redis.xlen(ks.results);
      if (results >= TASKS) break;
    }
    cpu = cpuSeconds(worker.pid);
    peakRss = Math.max(peakRss, vm(worker.pid, 'VmHWM'));
  } finally {
    await worker.stop(20_000);
  }
  const wallS = (Date.now() - started) / 1000;
  const k = await json<KeyStats>(`${simUrl}/admin/stats/${mode.key}`);
  const other = k.balanceChecks + k.reportsGood + k.reportsBad;
  return {
    mode, solved: k.charges, results, peakInFlight, allSubmittedS, wallS, peakRssMb: peakRss, cpuS: cpu,
    calls: k.submits + k.polls + other, submits: k.submits, polls: k.polls, other,
  };
}

function table(rows: RunResult[]): string {
  const head = ['mode', 'tasks', 'solved', 'peak in flight', 'all submitted s', 'wall s', 'peak RSS MB', 'CPU s', 'HTTP calls', 'submits', 'polls', 'calls/solved task'];
  const body = rows.map((r) => [
    r.mode.label, String(TASKS), String(r.solved), String(r.peakInFlight), r.allSubmittedS.toFixed(1), r.wallS.toFixed(1),
    r.peakRssMb.toFixed(0), r.cpuS.toFixed(1), String(r.calls), String(r.submits), String(r.polls),
    (r.calls / Math.max(1, r.solved)).toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const redisServer = await startRedis();
  const simPort = await freePort();
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = spawnService({
    name: 'provider-sim',
    entry: SIM_ENTRY,
    env: {
      PORT: String(simPort), LOG_LEVEL: 'warn', SIM_UNSOLVABLE_RATE: '0', SIM_LATENCY_SCALE: '1',
      SIM_LATENCY_RECAPTCHA_V2_MS: `${SOLVE_MS}-${SOLVE_MS}`, SIM_MAX_TASKS: String(TASKS * 4),
    },
  });
  const redis = new Redis(redisServer.url);
  try {
    await waitFor('simulator', async () => (await fetch(`${simUrl}/health`)).ok, { timeoutMs: 15_000 });
    process.stdout.write(`worker in-flight benchmark: ${TASKS} reCAPTCHA v2 tasks in flight in one worker process, solve time ${SOLVE_MS / 1000} s; ` +
      `first poll after 15 s, then every 5 s; node ${process.version}\n`);
    const rows: RunResult[] = [];
    for (const mode of MODES.filter((m) => !process.env.BENCH_MODES || process.env.BENCH_MODES.split(',').includes(m.id))) {
      process.stdout.write(`running: ${mode.label} …\n`);
      rows.push(await run(mode, redisServer.url, redis, simUrl));
    }
    process.stdout.write(`\n${table(rows)}\n\n`);
    const multi = rows.find((r) => r.mode.id === 'multi');
    const single = rows.find((r) => r.mode.id === 'single');
    if (!multi || !single) return;
    const perTask = (r: RunResult): number => r.calls / Math.max(1, r.solved);
    process.stdout.write(`provider HTTP calls per solved task, one-get-per-task / multi-get: ${(perTask(single) / perTask(multi)).toFixed(2)}x ` +
      `(polls alone: ${(single.polls / Math.max(1, multi.polls)).toFixed(1)}x)\n`);
    const capped = rows.find((r) => r.mode.id === 'capped');
    const rss = `${multi.peakRssMb.toFixed(0)} MB${capped ? ` (${capped.peakRssMb.toFixed(0)} MB with the old space capped)` : ''}`;
    process.stdout.write(`goals: peak RSS ≤ 300 MB → ${rss} ${multi.peakRssMb <= 300 ? 'met' : 'MISSED with V8 defaults'}; ` +
      `≤ 1.3 calls per solved task with batching → ${perTask(multi).toFixed(3)} ${perTask(multi) <= 1.3 ? 'met' : 'MISSED'}\n`);
  } finally {
    redis.disconnect();
    await sim.stop();
    await redisServer.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
