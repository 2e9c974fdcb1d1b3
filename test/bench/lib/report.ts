/**
 * The benchmark's one table (medians of the rounds, with ratios and goals) and the
 * docs/benchmarks.md page around it.
 */
import type { RoundReport } from './client';
import { median } from './measure';
import type { RunOutput } from './run';

export interface Summary {
  runs: Record<string, RunOutput>;
  machine: { nproc: string; cpu: string; node: string; redis: string; bullmq: string; date: string; command: string; loadBefore: string; loadAfter?: string };
  config: { ROUNDS: number; TASKS: number; CONCURRENCY: number; RATE: number; SECONDS: number; SLOW_TASKS: number; SLOW_MS: number; WORKER_CONCURRENCY: number; WARMUP: number; SAMPLE_RATIO?: number };
}

type Row = [label: string, ss: string, bull: string, raw: string, ratio: string, goal: string, verdict: string];

const fmt = (x: number | undefined, digits = 0): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

/** Median of `f` over the rounds of run `key`; undefined when the run was not part of this invocation. */
function m(s: Summary, key: string, f: (r: RoundReport) => number): number | undefined {
  const run = s.runs[key];
  return run && run.rounds.length ? median(run.rounds.map(f)) : undefined;
}

/**
 * `f(a) / f(b)`: the median of the per-round ratios when both runs have the same rounds
 * (round i of each ran in the same turn, lib/run.ts startContender, so the pairing takes
 * out how fast the shared machine was in that stretch); else the ratio of the medians.
 */
function ratio(s: Summary, a: string, b: string, f: (r: RoundReport) => number): number | undefined {
  const ra = s.runs[a]?.rounds ?? [];
  const rb = s.runs[b]?.rounds ?? [];
  if (!ra.length || !rb.length) return undefined;
  if (ra.length === rb.length) return median(ra.map((x, i) => f(x) / f(rb[i]!)));
  return median(ra.map(f)) / median(rb.map(f));
}

const verdict = (ok: boolean | undefined): string => (ok === undefined ? '' : ok ? 'met' : 'MISSED');

/** Every process's CPU a round's task cost, µs (NaN in reports from before the provider's was counted). */
const allCpu = (r: RoundReport): number => r.workerCpuUsPerTask + r.clientCpuUsPerTask + r.redis.cpuUsPerTask + (r.providerCpuUsPerTask ?? NaN);

/** Median over rounds of `f(round i of each run)`; undefined unless every run has the same rounds. */
function perRound(s: Summary, keys: readonly string[], f: (rs: RoundReport[]) => number): number | undefined {
  const runs = keys.map((k) => s.runs[k]?.rounds ?? []);
  const n = runs[0]?.length ?? 0;
  if (!n || runs.some((x) => x.length !== n)) return undefined;
  return median(Array.from({ length: n }, (_, i) => f(runs.map((x) => x[i]!))));
}

type BudgetRow = [label: string, us: string, note: string];

/** A stream hop's CPU per task: the raw loop's processes (it has no provider). */
const hopCpu = (r: RoundReport): number => r.workerCpuUsPerTask + r.clientCpuUsPerTask + r.redis.cpuUsPerTask;
/** The floors' runs, in the order floorSum takes them. */
const FLOORS = ['floor.api', 'floor.provider', 'raw.burst'];
/** Per round: the API request's client + the provider exchange's client and provider + the stream hop. */
const floorSum = ([a, p, r]: RoundReport[]): number =>
  a!.clientCpuUsPerTask + p!.clientCpuUsPerTask + (p!.providerCpuUsPerTask ?? NaN) + hopCpu(r!);

/** The three floor rows and their sum, for runs `keys` (FLOORS); `note` fills the third column. */
function floorRows(s: Summary, keys: string[], note: (us: number | undefined) => string): BudgetRow[] | undefined {
  const [api, provider, hop] = [
    perRound(s, [keys[0]!], ([a]) => a!.clientCpuUsPerTask),
    perRound(s, [keys[1]!], ([p]) => p!.clientCpuUsPerTask + (p!.providerCpuUsPerTask ?? NaN)),
    perRound(s, [keys[2]!], ([r]) => hopCpu(r!)),
  ];
  if (api === undefined || provider === undefined || hop === undefined) return undefined;
  const floors = perRound(s, keys, floorSum);
  return [
    ['floor: bare HTTP API request (fastify inject, POST → 202)', fmt(api), note(api)],
    ['floor: bare provider exchange (undici: in.php, batched res.php; client + provider)', fmt(provider), note(provider)],
    ['floor: raw streams hop (XADD → XREADGROUP → XADD + XACK; client + worker + Redis)', fmt(hop), note(hop)],
    ['floors together', fmt(floors), note(floors)],
  ];
}

/**
 * The throughput goals as a CPU budget. Both pipelines keep the 2 cores busy at burst,
 * so tasks/s ≈ cores / (CPU per task, every process). The floors (roles/floor.ts and
 * the raw loop) are what a task of this shape costs with nothing of a pipeline around
 * it: an HTTP API request, one provider exchange, one stream hop. What the goal allows
 * minus the floors is what is left for everything else (admission, idempotency, events,
 * projections, claims, checkpoints, leases, results). Each figure is the median of the
 * per-round figures (round i of every run ran in the same turn).
 */
export function budgetRows(s: Summary): BudgetRow[] {
  const cores = Number(s.machine.nproc);
  const keys = FLOORS;
  const max = (us: number | undefined): string => (us ? `at most ${fmt((cores * 1e6) / us)} tasks/s on ${cores} cores` : '');
  const out = floorRows(s, keys, () => '');
  if (!out || !cores) return [];
  const floors = perRound(s, keys, floorSum);
  out[3]![2] = max(floors);
  const bull = perRound(s, ['bullmq.burst'], ([b]) => b!.tasksPerS);
  if (bull !== undefined) {
    const left = perRound(s, ['bullmq.burst', ...keys], ([b, ...f]) => (cores * 1e6) / (3 * b!.tasksPerS) - floorSum(f));
    out.push(
      [`3× BullMQ (${fmt(3 * bull)} tasks/s) allows`, fmt(perRound(s, ['bullmq.burst'], ([b]) => (cores * 1e6) / (3 * b!.tasksPerS))), `${cores} cores / the goal's tasks/s`],
      ['left after the floors for everything else', fmt(left), left !== undefined && left < 0 ? 'NEGATIVE: the floors alone exceed the goal' : ''],
      ['0.6× the raw loop allows', fmt(perRound(s, ['raw.burst'], ([r]) => (cores * 1e6) / (0.6 * r!.tasksPerS))), `below the floors: ${fmt(floors)}`],
    );
  }
  for (const [key, label] of [['solvestream.burst', 'solvestream spends'], ['bullmq.burst', 'BullMQ spends (no HTTP API)']] as const) {
    const all = perRound(s, [key], ([r]) => allCpu(r!));
    if (all === undefined) continue;
    out.push([label, fmt(all), `${fmt(perRound(s, [key, ...keys], ([x, ...f]) => allCpu(x!) - floorSum(f)))} beyond the floors`]);
  }
  return out;
}

/**
 * The paced run's CPU per task, every process, and the share of the machine it keeps
 * busy at that rate (rate × µs / cores): the latency tail grows with it, as every hop
 * between processes waits for a core. (No floors here: at a low rate each floor's own
 * load generator and idle wake-ups would weigh on its figure, three times in a sum.)
 */
export function pacedBudgetRows(s: Summary): BudgetRow[] {
  const cores = Number(s.machine.nproc);
  const rate = s.config.RATE;
  const out: BudgetRow[] = [];
  for (const [key, label, f] of [
    ['solvestream.paced', 'solvestream', allCpu],
    ['bullmq.paced', 'BullMQ (no HTTP API)', allCpu],
    ['raw.paced', 'raw streams loop (no HTTP, no provider)', hopCpu],
  ] as const) {
    const us = perRound(s, [key], ([r]) => f(r!));
    if (us !== undefined && cores) out.push([label, fmt(us), `${fmt((100 * rate * us) / (cores * 1e6))} % of ${cores} cores busy`]);
  }
  return out;
}

export function rows(s: Summary): Row[] {
  const out: Row[] = [];
  const c = s.config;
  const tput = ['solvestream.burst', 'bullmq.burst', 'raw.burst'].map((k) => m(s, k, (r) => r.tasksPerS));
  const [ss, bull, raw] = tput;
  if (tput.some((x) => x !== undefined)) {
    const vsBull = bull ? ratio(s, 'solvestream.burst', 'bullmq.burst', (r) => r.tasksPerS) : undefined;
    const vsRaw = raw ? ratio(s, 'solvestream.burst', 'raw.burst', (r) => r.tasksPerS) : undefined;
    out.push([`throughput, tasks/s (${c.TASKS} tasks, instant provider)`, fmt(ss), fmt(bull), fmt(raw),
      `${fmt(vsBull, 2)}× BullMQ, ${fmt(vsRaw, 2)}× raw`, '≥ 3× BullMQ, ≥ 0.6× raw',
      [verdict(vsBull === undefined ? undefined : vsBull >= 3), verdict(vsRaw === undefined ? undefined : vsRaw >= 0.6)].join(', ')]);
    for (const [label, f, digits] of [
      ['  Redis CPU per task, µs', (r: RoundReport) => r.redis.cpuUsPerTask, 1],
      ['  Redis commands per task (incl. inside scripts)', (r: RoundReport) => r.redis.commandsPerTask, 1],
      ['  Lua script calls per task', (r: RoundReport) => r.redis.scriptsPerTask, 2],
      // Older reports (benchmarks.json before these were measured) have no byte counts: NaN prints as –.
      ['  bytes to Redis per task (commands)', (r: RoundReport) => r.redis.bytesInPerTask ?? NaN, 0],
      ['  bytes from Redis per task (replies)', (r: RoundReport) => r.redis.bytesOutPerTask ?? NaN, 0],
      ['  worker process CPU per task, µs', (r: RoundReport) => r.workerCpuUsPerTask, 0],
      ['  client process CPU per task, µs (solvestream: incl. the producer)', (r: RoundReport) => r.clientCpuUsPerTask, 0],
      ['  provider process CPU per task, µs (the instant provider)', (r: RoundReport) => r.providerCpuUsPerTask ?? NaN, 0],
      ['  all processes, CPU per task, µs (worker + client + Redis + provider)', allCpu, 0],
    ] as const) {
      const v = ['solvestream.burst', 'bullmq.burst', 'raw.burst'].map((k) => m(s, k, f));
      out.push([label, fmt(v[0], digits), fmt(v[1], digits), fmt(v[2], digits), v[0] && v[1] ? `${fmt(ratio(s, 'solvestream.burst', 'bullmq.burst', f), 2)}× BullMQ` : '', '', '']);
    }
  }
  const lat = (f: (r: RoundReport) => number): (number | undefined)[] => ['solvestream.paced', 'bullmq.paced', 'raw.paced'].map((k) => m(s, k, f));
  const p50 = lat((r) => r.p50Ms);
  if (p50.some((x) => x !== undefined)) {
    const p99 = lat((r) => r.p99Ms);
    out.push([`latency p50 at ${c.RATE} tasks/s, ms`, fmt(p50[0], 1), fmt(p50[1], 1), fmt(p50[2], 1), '', '', '']);
    // A contender that cannot keep the rate queues up, and its latency is that backlog's.
    const rate = lat((r) => r.tasksPerS);
    out.push(['  rate achieved (first submit to last result), tasks/s', fmt(rate[0]), fmt(rate[1]), fmt(rate[2]), '', `${c.RATE}`, '']);
    out.push([`latency p99 at ${c.RATE} tasks/s, ms`, fmt(p99[0], 1), fmt(p99[1], 1), fmt(p99[2], 1), '', '≤ 15 ms', verdict(p99[0] === undefined ? undefined : p99[0] <= 15)]);
    const rc = lat((r) => r.redis.cpuUsPerTask);
    out.push(['  Redis CPU per task at that rate, µs', fmt(rc[0], 1), fmt(rc[1], 1), fmt(rc[2], 1), '', '', '']);
  }
  const slow = s.runs.slow;
  if (slow) {
    const wall = median(slow.rounds.map((r) => r.wallMs)) / 1000;
    const cpu = median(slow.rounds.map((r) => (r.workerCpuUsPerTask * r.tasks) / 1e6));
    out.push([`${c.SLOW_TASKS} slow tasks (${c.SLOW_MS / 1000} s each), one worker: wall, s`, fmt(wall, 2), '', '', `${fmt(wall / (c.SLOW_MS / 1000), 2)}× the ${c.SLOW_MS / 1000} s solve`, '≤ 2.5 s', verdict(wall <= 2.5)]);
    out.push(['  worker peak RSS, MB', fmt(slow.workerPeakRssMb), '', '', '', '≤ 200 MB', verdict(slow.workerPeakRssMb <= 200)]);
    out.push(['  worker CPU, s', fmt(cpu, 2), '', '', '', '', '']);
  }
  const wOff = m(s, 'solvestream.burst', (r) => r.workerCpuUsPerTask);
  for (const [key, label] of [
    ['tracing.burst', 'tracing on'],
    ['tracing.sampled', `tracing on, ${(c.SAMPLE_RATIO ?? 0.1) * 100} % of traces sampled`],
  ] as const) {
    const t = m(s, key, (r) => r.tasksPerS);
    if (t === undefined) continue;
    out.push([`${label}: throughput, tasks/s`, fmt(t), '', '', ss ? `${fmt(ratio(s, key, 'solvestream.burst', (r) => r.tasksPerS), 2)}× tracing off` : '', '', '']);
    const w = m(s, key, (r) => r.workerCpuUsPerTask);
    out.push(['  worker CPU per task, µs', fmt(w), '', '', w && wOff ? `${fmt(ratio(s, key, 'solvestream.burst', (r) => r.workerCpuUsPerTask), 2)}× tracing off` : '', '', '']);
  }
  const pOn = m(s, 'tracing.paced', (r) => r.p99Ms);
  if (pOn !== undefined) {
    out.push([`tracing on: latency p50 / p99 at ${c.RATE} tasks/s, ms`, `${fmt(m(s, 'tracing.paced', (r) => r.p50Ms), 1)} / ${fmt(pOn, 1)}`, '', '', p50[0] !== undefined ? `off: ${fmt(p50[0], 1)} / ${fmt(lat((r) => r.p99Ms)[0], 1)}` : '', '', '']);
  }
  return out;
}

/** A markdown table; columns `numeric` are right-aligned. */
function table(head: string[], body: string[][], numeric: (i: number) => boolean): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((x, i) => (numeric(i) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), sep, ...body.map(line)].join('\n');
}

/** The main table, and the CPU budgets below it when the floors ran. */
export function renderTable(s: Summary): string {
  const parts = [table(['measure (median of rounds)', 'solvestream', 'BullMQ', 'raw streams', 'ratio', 'goal', 'goal met'], rows(s), (i) => i >= 1 && i <= 3)];
  const budget = budgetRows(s);
  if (budget.length) parts.push(`The throughput goals as CPU per task, every process (burst, same rounds):\n\n${table(['CPU per task, µs', 'µs', ''], budget, (i) => i === 1)}`);
  const paced = pacedBudgetRows(s);
  if (paced.length) parts.push(`CPU per task at a paced ${s.config.RATE} tasks/s, every process, and the share of the machine that keeps busy:\n\n${table(['CPU per task at that rate', 'µs', ''], paced, (i) => i === 1)}`);
  return parts.join('\n\n');
}

/** Everything after this line in docs/benchmarks.md is hand-written and kept when the page is regenerated. */
export const NOTES_MARKER = '<!-- notes: kept when the bench regenerates this page -->';

export function renderMarkdown(s: Summary, table: string, notes = ''): string {
  const mc = s.machine;
  const c = s.config;
  return `# Benchmarks

Generated by \`${mc.command}\` (\`npm run bench\` runs it with every other workspace's bench)
on ${mc.date}. Every figure is the median of ${c.ROUNDS} rounds, all measured in that one run, the contenders taking turns round by round.
Goals are reported, not asserted. How to read each figure: [the suite's header](../test/bench/pipeline.ts).
Raw figures of every round: [benchmarks.json](benchmarks.json).

Machine: ${mc.nproc} cores (\`nproc\`), ${mc.cpu}; Node ${mc.node}; Redis ${mc.redis}; BullMQ ${mc.bullmq}.
Load average (1, 5, 15 min) before the run: ${mc.loadBefore}; after: ${mc.loadAfter ?? '?'} (the machine is shared:
anything else running competes for the same 2 cores).

${table}

Setup: ${c.TASKS} tasks per throughput round with at most ${c.CONCURRENCY} submits outstanding
(after an unmeasured warm-up of ${c.WARMUP}); latency at a paced ${c.RATE} tasks/s for ${c.SECONDS} s;
workers hold up to ${c.WORKER_CONCURRENCY} tasks in flight (BullMQ: \`concurrency\` ${c.WORKER_CONCURRENCY}).

${NOTES_MARKER}
${notes}`;
}
