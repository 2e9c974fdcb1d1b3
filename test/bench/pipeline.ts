/**
 * Issue 8: the pipeline benchmark. One machine, its own redis-server, one table; every
 * figure is the median of BENCH_ROUNDS rounds, all measured in the same run. Printed
 * and written to docs/benchmarks.json + docs/benchmarks.md; goals are reported, not
 * asserted.
 *
 *   npm run bench                                   (root: build, then every workspace's bench)
 *   npm run bench -w @solvestream/system-tests      (this suite, then reclaim.ts)
 *   node dist/bench/pipeline.js [throughput] [latency] [slow] [tracing]   (a subset)
 *   node dist/bench/pipeline.js render          (docs/benchmarks.md again from benchmarks.json, no run:
 *                                                after a change to the report's format)
 *
 * Sub-benchmarks (Redis commands and CPU per task come with every round):
 *
 *   throughput  BENCH_TASKS tasks, at most BENCH_CONCURRENCY submits outstanding, an
 *               instant provider; tasks/s from the first submit to the last result.
 *               solvestream (producer API → worker → results) vs BullMQ (same workload,
 *               its defaults) vs the raw XADD → XREADGROUP → XADD + XACK loop; with
 *               them, the floors (roles/floor.ts: a bare HTTP API request, a bare
 *               provider exchange), and below the table the goals as a CPU budget
 *               (lib/report.ts budgetRows)
 *   latency     submit → result p50/p99 at a paced BENCH_RATE tasks/s for BENCH_SECONDS
 *   slow        BENCH_SLOW_TASKS tasks that take BENCH_SLOW_MS at the provider, in one
 *               worker process: wall time (first submit → last result), peak RSS, CPU
 *   tracing     solvestream throughput and latency with tracing on (OTLP/HTTP to a
 *               local sink that reads and drops every export) vs off, and throughput
 *               with 10 % of traces sampled (parentbased_traceidratio)
 *
 * Env: BENCH_ROUNDS (3), BENCH_TASKS (10000), BENCH_CONCURRENCY (256), BENCH_RATE (2000),
 * BENCH_SECONDS (3), BENCH_SLOW_TASKS (5000), BENCH_SLOW_MS (2000), BENCH_WORKER_CONCURRENCY
 * (1000), BENCH_WARMUP (3000), BENCH_CONTENDERS (e.g. `solvestream,tracing`: only those
 * runs, for profiling), BENCH_WORKER_ENV (JSON of extra solvestream worker variables),
 * BENCH_OUT (the JSON file; default docs/benchmarks.json, written by full runs only).
 *
 * Processes: redis-server; the instant provider (lib/instant-provider.ts); per contender
 * a worker process (solvestream: services/worker dist/src/main.js with its production
 * defaults, LOG_LEVEL=warn) and a client process (roles/*.ts) that also measures; the
 * provider's CPU is counted per round too (the contenders take turns, so it serves one).
 *
 * The contenders of the burst runs (throughput and its tracing variants) and of the paced
 * runs are up side by side and take turns round by round (runGroup), so a slow stretch of
 * the shared machine falls on all of them alike; tracing rounds idle until their exports
 * have left (drainMs) so that CPU lands in their own round. The slow run has a fresh
 * worker per round.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import { keyspace } from '@solvestream/contracts';
import { spawnService, startRedis, waitFor } from '@solvestream/testkit';
import type { ClientConfig, RoundReport } from './lib/client';
import { median } from './lib/measure';
import { eventTimeline, stageLatencies, type EventSpread } from './lib/events';
import { runContender, spawnRole, startContender, type LiveContender, type WorkerLauncher } from './lib/run';
import { startOtlpSink, type OtlpSink } from './lib/otlp-sink';
import { NOTES_MARKER, renderMarkdown, renderTable, type Summary } from './lib/report';

const num = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);
const ROUNDS = num('BENCH_ROUNDS', 3);
const TASKS = num('BENCH_TASKS', 10_000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 256);
const RATE = num('BENCH_RATE', 2000);
const SECONDS = num('BENCH_SECONDS', 3);
const SLOW_TASKS = num('BENCH_SLOW_TASKS', 5000);
const SLOW_MS = num('BENCH_SLOW_MS', 2000);
const WORKER_CONCURRENCY = num('BENCH_WORKER_CONCURRENCY', 1000);
const WARMUP = num('BENCH_WARMUP', 3000);
/** The export queue's schedule delay (libs/telemetry span-export.ts default; OTEL_BSP_SCHEDULE_DELAY unset). */
const TRACE_EXPORT_DELAY_MS = 5000;
/** Share of traces the `tracing.sampled` run keeps (OTEL_TRACES_SAMPLER_ARG). */
const SAMPLE_RATIO = 0.1;
const ROOT = resolve(__dirname, '..', '..', '..');
const OUT_JSON = process.env.BENCH_OUT ?? resolve(ROOT, 'docs', 'benchmarks.json');
const SUITES = ['throughput', 'latency', 'slow', 'tracing'] as const;
type Suite = (typeof SUITES)[number];

/** reCAPTCHA v2's typical solve time (worker config.ts): POLL_FIRST_DELAY_SCALE is a multiple of it. */
const RECAPTCHA_V2_TYPICAL_MS = 15_000;

interface Env {
  redisUrl: string; redis: Redis; providerUrl: string; slowProviderUrl: string;
  /** The provider processes, whose CPU each round counts (lib/client.ts). */
  providerPid: number; slowProviderPid: number;
}

/** Ready = its first heartbeat is in Redis (it logs `worker ready` at info; the bench runs it at warn). */
function solvestreamWorker(e: Env, prefix: string, extra: Record<string, string> = {}): WorkerLauncher {
  const id = `bench-${prefix}`;
  return {
    ready: (p) => waitFor(`${p.name} heartbeat`, async () => {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited:\n${p.lines.slice(-15).join('\n')}`);
      const beats = (await e.redis.xrevrange(keyspace({ prefix }).heartbeats, '+', '-', 'COUNT', 20)) as [string, string[]][];
      return beats.some(([, f]) => f.includes(id));
    }, { timeoutMs: 30_000, intervalMs: 50 }),
    start: () => spawnService({
      name: 'solvestream worker',
      entry: resolve(ROOT, 'services', 'worker', 'dist', 'src', 'main.js'),
      env: {
        REDIS_URL: e.redisUrl, KEY_PREFIX: prefix, WORKER_ID: id, LOG_LEVEL: 'warn', SS_TRACING: 'off',
        PROVIDER_NAME: 'bench', PROVIDER_URL: e.providerUrl, PROVIDER_KEY: 'bench',
        WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
        // Instant provider: the first poll is due at once (the typical solve time × 0).
        POLL_FIRST_DELAY_SCALE: '0',
        ...extra,
        ...(JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}') as Record<string, string>),
      },
    }),
  };
}

function roleWorker(role: string, config: Record<string, unknown>): WorkerLauncher {
  return { start: () => spawnRole(`${role} worker`, role, 'worker', { BENCH_WORKER: JSON.stringify(config) }) };
}

const load = (e: Env, prefix: string, shape: 'burst' | 'paced', extra: Partial<ClientConfig> = {}): ClientConfig => ({
  redisUrl: e.redisUrl, prefix, shape, tasks: TASKS, concurrency: CONCURRENCY, rate: RATE, seconds: SECONDS,
  rounds: ROUNDS, warmup: WARMUP, providerPid: e.providerPid, ...extra,
});

async function fresh(e: Env): Promise<void> {
  await e.redis.flushall();
  await e.redis.config('RESETSTAT');
}

/** One contender of a group: what runs, under which key of the summary. */
interface Spec {
  key: string;
  label: string;
  /** null: a floor, a client alone (roles/floor.ts). */
  worker: WorkerLauncher | null;
  client: { role: string; config: ClientConfig; env?: Record<string, string> };
  /** Tracing contenders: their own sink, so what each exported is its own. */
  sink?: OtlpSink;
}

const perTask = (r: RoundReport): string => `${r.tasksPerS.toFixed(0)} tasks/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms; ` +
  `CPU µs/task: worker ${r.workerCpuUsPerTask.toFixed(0)}, client ${r.clientCpuUsPerTask.toFixed(0)}, redis ${r.redis.cpuUsPerTask.toFixed(0)}, provider ${(r.providerCpuUsPerTask ?? NaN).toFixed(0)}`;

/**
 * Runs a group's contenders side by side: all are started (each warms up alone), then
 * they take turns round by round (round 1 of each, round 2 of each, …, the order rotated
 * by one each round), so every
 * contender's rounds see the same stretches of a shared machine. Idle contenders block
 * on their reads (a few Redis commands per second against ≈ 100,000 per round).
 */
async function runGroup(e: Env, name: string, specs: Spec[], out: Summary['runs']): Promise<void> {
  if (!specs.length) return;
  await fresh(e);
  process.stdout.write(`${name}: ${specs.map((s) => s.label).join(' | ')}; ${ROUNDS} rounds each, taking turns\n`);
  const t0 = Date.now();
  const live: [Spec, LiveContender][] = [];
  try {
    for (const s of specs) live.push([s, await startContender(s.worker, s.client)]);
    for (let r = 0; r < ROUNDS; r++) {
      // The order rotates, so no contender always follows the same one (whose leftovers,
      // e.g. a big heap being collected, would always fall on it).
      for (let i = 0; i < live.length; i++) {
        const [s, l] = live[(i + r) % live.length]!;
        process.stdout.write(`  round ${r + 1}, ${s.label}: ${perTask(await l.round(r))}\n`);
      }
    }
  } finally {
    for (const [s, l] of live) {
      const run = await l.finish();
      if (s.sink) run.otlp = { ...s.sink.stats };
      out[s.key] = run;
    }
  }
  for (const [s] of live) {
    const r = out[s.key]!;
    const m = (f: (x: RoundReport) => number): number => median(r.rounds.map(f));
    process.stdout.write(`${s.label}, median: ${m((x) => x.tasksPerS).toFixed(0)} tasks/s, p50 ${m((x) => x.p50Ms).toFixed(1)} ms, p99 ${m((x) => x.p99Ms).toFixed(1)} ms; ` +
      `CPU µs/task: worker ${m((x) => x.workerCpuUsPerTask).toFixed(0)}, client ${m((x) => x.clientCpuUsPerTask).toFixed(0)}, redis ${m((x) => x.redis.cpuUsPerTask).toFixed(0)}\n` +
      `  Redis per task: ${r.rounds[0]?.redis.top}; bytes in/out ${m((x) => x.redis.bytesInPerTask).toFixed(0)}/${m((x) => x.redis.bytesOutPerTask).toFixed(0)}\n`);
  }
  process.stdout.write(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

async function runAll(e: Env, suites: Set<Suite>): Promise<Summary> {
  const out: Summary['runs'] = {};
  const only = process.env.BENCH_CONTENDERS?.split(',');
  const wanted = (key: string): boolean => !only || only.some((c) => key.startsWith(c));
  const bullWorker = (p: string): ReturnType<typeof roleWorker> => roleWorker('bullmq', { redisUrl: e.redisUrl, prefix: p, providerUrl: e.providerUrl, concurrency: WORKER_CONCURRENCY, pollIntervalMs: 5 });
  const rawWorker = (p: string): ReturnType<typeof roleWorker> => roleWorker('raw', { redisUrl: e.redisUrl, prefix: p });
  const sinks: OtlpSink[] = [];
  // Tracing on: OTLP/HTTP to a sink of its own; `extra` adds the sampler variables.
  const traced = async (key: string, label: string, prefix: string, shape: 'burst' | 'paced', extra: Record<string, string> = {}): Promise<Spec> => {
    const sink = await startOtlpSink();
    sinks.push(sink);
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, SS_TRACING: 'on', ...extra };
    // Every round's spans are exported (and their CPU counted) within that round.
    const drainMs = TRACE_EXPORT_DELAY_MS + 1000;
    return { key, label, sink, worker: solvestreamWorker(e, prefix, env), client: { role: 'solvestream', config: load(e, prefix, shape, { drainMs }), env } };
  };
  try {
    for (const shape of ['burst', 'paced'] as const) {
      const suite: Suite = shape === 'burst' ? 'throughput' : 'latency';
      const specs: Spec[] = [];
      if (suites.has(suite)) {
        specs.push(
          { key: `solvestream.${shape}`, label: `solvestream ${suite}`, worker: solvestreamWorker(e, 'ss'), client: { role: 'solvestream', config: load(e, 'ss', shape), env: { SS_TRACING: 'off' } } },
          { key: `bullmq.${shape}`, label: `BullMQ ${suite}`, worker: bullWorker('bull'), client: { role: 'bullmq', config: load(e, 'bull', shape) } },
          { key: `raw.${shape}`, label: `raw streams loop ${suite}`, worker: rawWorker('raw'), client: { role: 'raw', config: load(e, 'raw', shape, { providerPid: undefined }) } },
        );
        // The floors take their turns with the burst contenders, so each round's budget
        // arithmetic (report.ts) pairs figures of the same stretch of the machine. Not
        // paced: at a low rate each floor's own load generator and idle wake-ups weigh
        // on its figure, and three separate processes' sum would count them three times.
        if (shape === 'burst') {
          specs.push(
            { key: 'floor.api', label: 'floor: bare HTTP API request', worker: null, client: { role: 'floor', config: load(e, 'floor-api', shape, { providerPid: undefined, options: { floor: 'api' } }) } },
            { key: 'floor.provider', label: 'floor: bare provider exchange', worker: null, client: { role: 'floor', config: load(e, 'floor-provider', shape, { options: { floor: 'provider', providerUrl: e.providerUrl } }) } },
          );
        }
      }
      if (suites.has('tracing')) {
        if (wanted(`tracing.${shape}`)) specs.push(await traced(`tracing.${shape}`, `solvestream ${suite}, tracing on`, 'tr', shape));
        // The standard sampler variables (the SDK reads them): the producer samples 1 trace
        // in 10 at the HTTP submit, and the worker follows the decision carried in the entry.
        if (shape === 'burst' && wanted('tracing.sampled')) {
          specs.push(await traced('tracing.sampled', `solvestream throughput, tracing on, ${SAMPLE_RATIO * 100} % of traces sampled`, 'ts', 'burst',
            { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(SAMPLE_RATIO) }));
        }
      }
      await runGroup(e, shape === 'burst' ? 'throughput (burst)' : `latency (paced, ${RATE} tasks/s)`, specs.filter((x) => wanted(x.key)), out);
      const paced = out['solvestream.paced'];
      if (shape === 'paced' && paced) {
        paced.stages = await stageLatencies(e.redis, keyspace({ prefix: 'ss' }), RATE * SECONDS);
        process.stdout.write(`  solvestream latency by step, last round, ms (p50 / p99): ${Object.entries(paced.stages).map(([k, v]) => `${k} ${v.p50}/${v.p99}`).join(', ')}\n`);
      }
    }
  } finally {
    await Promise.all(sinks.map((x) => x.close()));
  }
  if (suites.has('slow')) {
    // A fresh worker process per round: its peak RSS is that round's.
    const rounds: RoundReport[] = [];
    const peaks: number[] = [];
    const timelines: Record<string, EventSpread>[] = [];
    process.stdout.write(`running: ${SLOW_TASKS} slow tasks (${SLOW_MS} ms each) in one worker …`);
    for (let r = 0; r < ROUNDS; r++) {
      await fresh(e);
      const one = await runContender(
        solvestreamWorker(e, 'slow', {
          PROVIDER_URL: e.slowProviderUrl,
          // First poll at the solve time (the type's "typical" time here), then every 250 ms.
          POLL_FIRST_DELAY_SCALE: String(SLOW_MS / RECAPTCHA_V2_TYPICAL_MS), POLL_INTERVAL_MS: '250',
          WORKER_CONCURRENCY: String(Math.max(WORKER_CONCURRENCY, SLOW_TASKS)),
        }),
        { role: 'solvestream', config: load(e, 'slow', 'burst', { tasks: SLOW_TASKS, concurrency: SLOW_TASKS, rounds: 1, warmup: 0, providerPid: e.slowProviderPid, options: { submitter: 'transition' } }) },
      );
      rounds.push(...one.rounds);
      peaks.push(one.workerPeakRssMb);
      timelines.push(await eventTimeline(e.redis, keyspace({ prefix: 'slow' })));
    }
    out.slow = { rounds, workerPeakRssMb: median(peaks), peaks, timelines };
    process.stdout.write(` wall ${(median(rounds.map((x) => x.wallMs)) / 1000).toFixed(2)} s (all queued after ${(median(rounds.map((x) => x.submitMs ?? NaN)) / 1000).toFixed(2)} s), ` +
      `p50 ${(median(rounds.map((x) => x.p50Ms)) / 1000).toFixed(2)} s, peak RSS ${median(peaks).toFixed(0)} MB\n` +
      `  events, ms after the first submit (first / p50 / last, round 1): ${formatTimeline(timelines[0] ?? {})}\n`);
  }
  return { runs: out, machine: machine(), config: { ROUNDS, TASKS, CONCURRENCY, RATE, SECONDS, SLOW_TASKS, SLOW_MS, WORKER_CONCURRENCY, WARMUP, SAMPLE_RATIO } };
}

const formatTimeline = (t: Record<string, EventSpread>): string => Object.entries(t)
  .map(([name, x]) => `${name} ${x.firstMs}/${x.p50Ms}/${x.lastMs}`).join(', ');

function machine(): Summary['machine'] {
  const sh = (cmd: string, args: string[]): string => { try { return execFileSync(cmd, args).toString().trim(); } catch { return '?'; } };
  const cpu = /model name\s*:\s*(.+)/.exec(sh('cat', ['/proc/cpuinfo']))?.[1] ?? '?';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bullmq = (require('bullmq/package.json') as { version: string }).version;
  return {
    nproc: sh('nproc', []), cpu, node: process.version,
    redis: /v=(\S+)/.exec(sh('redis-server', ['--version']))?.[1] ?? '?', bullmq,
    loadBefore: '?',
    date: new Date().toISOString(), command: `node test/dist/bench/pipeline.js ${process.argv.slice(2).join(' ')}`.trim(),
  };
}

/** Writes the table and docs/benchmarks.md beside the JSON; the hand-written notes after NOTES_MARKER are kept. */
function writeReport(summary: Summary): string {
  const table = renderTable(summary);
  const md = resolve(OUT_JSON, '..', 'benchmarks.md');
  const old = existsSync(md) ? readFileSync(md, 'utf8') : '';
  const notes = old.includes(NOTES_MARKER) ? old.slice(old.indexOf(NOTES_MARKER) + NOTES_MARKER.length + 1) : '';
  writeFileSync(md, renderMarkdown(summary, table, notes));
  return table;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'render') {
    process.stdout.write(`${writeReport(JSON.parse(readFileSync(OUT_JSON, 'utf8')) as Summary)}\n\nwritten: benchmarks.md beside ${OUT_JSON}\n`);
    return;
  }
  const picked = process.argv.slice(2).filter((a): a is Suite => (SUITES as readonly string[]).includes(a));
  const suites = new Set<Suite>(picked.length ? picked : SUITES);
  const server = await startRedis();
  const redis = new Redis(server.url);
  const providers = [0, SLOW_MS].map((ms) => spawnRole(`instant provider (${ms} ms)`, 'provider', 'provider', { BENCH_SOLVE_MS: String(ms) }));
  try {
    const ports = await Promise.all(providers.map(async (p) => /listening (\d+)/.exec(await p.waitForLine('listening', 10_000))?.[1]));
    const e: Env = {
      redisUrl: server.url, redis, providerUrl: `http://127.0.0.1:${ports[0]}`, slowProviderUrl: `http://127.0.0.1:${ports[1]}`,
      providerPid: providers[0]!.pid, slowProviderPid: providers[1]!.pid,
    };
    process.stdout.write(`pipeline benchmark: ${ROUNDS} rounds each; ${TASKS} tasks per throughput round, ${CONCURRENCY} submits outstanding; ` +
      `${RATE} tasks/s × ${SECONDS} s paced; ${SLOW_TASKS} × ${SLOW_MS} ms slow tasks\n`);
    const loadBefore = loadavg().map((x) => x.toFixed(2)).join(', ');
    const summary = await runAll(e, suites);
    summary.machine.loadBefore = loadBefore;
    summary.machine.loadAfter = loadavg().map((x) => x.toFixed(2)).join(', ');
    process.stdout.write(`\n${renderTable(summary)}\n`);
    if (suites.size === SUITES.length || process.env.BENCH_OUT) {
      mkdirSync(resolve(OUT_JSON, '..'), { recursive: true });
      writeFileSync(OUT_JSON, `${JSON.stringify(summary, null, 2)}\n`);
      writeReport(summary);
      process.stdout.write(`\nwritten: ${OUT_JSON} and benchmarks.md beside it\n`);
    }
  } finally {
    redis.disconnect();
    await Promise.all(providers.map((p) => p.stop()));
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
