/**
 * The client side of one contender, run as its own process (`roles/*.ts client`): the
 * orchestrator passes a `ClientConfig` as JSON in BENCH_CLIENT, the client runs a
 * warm-up and then `rounds` measured rounds, and prints one `ROUND <json>` line per
 * round (a `RoundReport`) and `DONE` at the end. Gated (`gated: true`), it prints
 * `READY <r>` before round r and starts it on the orchestrator's SIGUSR2, so the rounds
 * of several live contenders can take turns (lib/run.ts startContender).
 *
 * Each round also takes Redis INFO before and after (commands and CPU per task) and
 * the CPU of this process, of the worker process (`workerPid`) and of the provider
 * process (`providerPid`: the contenders take turns, so the provider serves only this
 * round's) over the round.
 */
import Redis from 'ioredis';
import { burst, paced, ResultTracker, type LoadResult, type LoadTarget } from './load';
import { procCpuS, redisCost, redisSnapshot, type RedisCost } from './measure';

export interface ClientConfig {
  redisUrl: string;
  prefix: string;
  shape: 'burst' | 'paced';
  tasks?: number;
  concurrency?: number;
  rate?: number;
  seconds?: number;
  rounds: number;
  /** Tasks of the unmeasured warm-up burst (JIT, connections, script cache). */
  warmup: number;
  workerPid?: number;
  /** The provider process this contender's worker calls, when there is one: its CPU is counted per round. */
  providerPid?: number;
  /** Free-form per contender (e.g. `submitter`). */
  options?: Record<string, string>;
  /** Wait for the orchestrator's cue before each round (see the module comment). */
  gated?: boolean;
  /**
   * Idle time inside the round's measurement window after the load is done, ms (default
   * 0). Tracing on: the export queue's last partial batch leaves up to its schedule delay
   * later (5 s) and is counted in this round, not in the next contender's.
   */
  drainMs?: number;
}

export interface RoundReport extends LoadResult {
  redis: RedisCost;
  /** CPU of the client process (submit side + result reader) per task, µs. */
  clientCpuUsPerTask: number;
  /** CPU of the worker process per task, µs. */
  workerCpuUsPerTask: number;
  /** CPU of the provider process per task, µs (0 without one; absent in reports before 2026-12-07). */
  providerCpuUsPerTask?: number;
}

export interface Contender {
  target: LoadTarget;
  /** Registers the function told about every result seen (by task id). */
  onResult(fn: (id: string) => void): void;
  close(): Promise<void>;
}

/** Prints `READY <r>` and resolves on the next SIGUSR2 (the handler is in place first). */
function cue(r: number): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGUSR2', () => resolve());
    process.stdout.write(`READY ${r}\n`);
  });
}

export function readClientConfig(): ClientConfig {
  return JSON.parse(process.env.BENCH_CLIENT ?? '{}') as ClientConfig;
}

export async function clientMain(make: (cfg: ClientConfig) => Promise<Contender>): Promise<void> {
  const cfg = readClientConfig();
  // Stopped by the orchestrator: exit normally, so that `--cpu-prof` (SS_NODE_ARGS) writes its profile.
  process.once('SIGTERM', () => process.exit(0));
  const contender = await make(cfg);
  let tracker = new ResultTracker();
  contender.onResult((id) => tracker.result(id));
  const info = new Redis(cfg.redisUrl);
  const cpuSelf = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  try {
    if (cfg.warmup > 0) await burst(contender.target, tracker, { tasks: cfg.warmup, concurrency: cfg.concurrency ?? 256 });
    for (let r = 0; r < cfg.rounds; r++) {
      if (cfg.gated) await cue(r);
      tracker = new ResultTracker();
      const a = await redisSnapshot(info);
      const c0 = cpuSelf();
      const w0 = cfg.workerPid ? procCpuS(cfg.workerPid) : 0;
      const p0 = cfg.providerPid ? procCpuS(cfg.providerPid) : 0;
      const load = cfg.shape === 'burst'
        ? await burst(contender.target, tracker, { tasks: cfg.tasks ?? 10_000, concurrency: cfg.concurrency ?? 256 })
        : await paced(contender.target, tracker, { rate: cfg.rate ?? 2000, seconds: cfg.seconds ?? 3 });
      if (cfg.drainMs) await new Promise((res) => setTimeout(res, cfg.drainMs));
      const w1 = cfg.workerPid ? procCpuS(cfg.workerPid) : 0;
      const p1 = cfg.providerPid ? procCpuS(cfg.providerPid) : 0;
      const c1 = cpuSelf();
      const b = await redisSnapshot(info);
      const report: RoundReport = {
        ...load,
        redis: redisCost(a, b, load.tasks),
        clientCpuUsPerTask: ((c1 - c0) * 1e6) / load.tasks,
        workerCpuUsPerTask: ((w1 - w0) * 1e6) / load.tasks,
        providerCpuUsPerTask: ((p1 - p0) * 1e6) / load.tasks,
      };
      process.stdout.write(`ROUND ${JSON.stringify(report)}\n`);
      // Let the last acks and trims land before the next round's INFO snapshot.
      await new Promise((res) => setTimeout(res, 300));
    }
  } finally {
    info.disconnect();
    await contender.close();
  }
  process.stdout.write('DONE\n');
}
