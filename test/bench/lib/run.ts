/**
 * Orchestration of one contender: start its worker process, run its client process
 * (lib/client.ts protocol), collect the `ROUND` reports, stop both.
 */
import { resolve } from 'node:path';
import { spawnService, type ServiceProcess } from '@solvestream/testkit';
import type { ClientConfig, RoundReport } from './client';
import { procMemMb } from './measure';
import type { EventSpread, StageLatencies } from './events';

const BENCH_DIST = resolve(__dirname, '..');
export const roleEntry = (name: string): string => resolve(BENCH_DIST, 'roles', `${name}.js`);

export interface RunOutput {
  rounds: RoundReport[];
  /** Worker VmHWM at the end of the run, MB (median over processes when there were several). */
  workerPeakRssMb: number;
  /** Per worker process, when each round had its own. */
  peaks?: number[];
  /** What the OTLP sink received during the run (tracing on). */
  otlp?: { requests: number; bytes: number };
  /** Slow tasks: per round, when each lifecycle event happened (measure.ts eventTimeline). */
  timelines?: Record<string, EventSpread>[];
  /** Paced runs: latency by step of the task's life (measure.ts stageLatencies). */
  stages?: StageLatencies;
}

/** Starts a role (`roles/<role>.js`) as `client` or `worker`; spawnService takes no argv, so the mode travels as BENCH_ROLE. */
export function spawnRole(name: string, role: string, arg: string, env: Record<string, string>): ServiceProcess {
  return spawnService({ name, entry: roleEntry(role), env: { ...env, BENCH_ROLE: arg } });
}

/** A worker to start; `ready` resolves once it takes tasks (default: it printed `worker ready`). */
export interface WorkerLauncher {
  start(): ServiceProcess;
  ready?: (p: ServiceProcess) => Promise<unknown>;
}

/** Races `wait` against either process exiting (a crash must fail the run, not time it out). */
function watched<T>(wait: Promise<T>, c: ServiceProcess, w: ServiceProcess | null, role: string): Promise<T> {
  return Promise.race([
    wait,
    c.exited().then(({ code }): never => { throw new Error(`${role} client exited with ${code}:\n${c.lines.slice(-15).join('\n')}`); }),
    ...(w ? [w.exited().then(({ code }): never => { throw new Error(`${w.name} exited with ${code}:\n${w.lines.slice(-15).join('\n')}`); })] : []),
  ]);
}

const reports = (c: ServiceProcess): RoundReport[] =>
  c.lines.filter((l) => l.startsWith('ROUND ')).map((l) => JSON.parse(l.slice(6)) as RoundReport);

type ClientSpec = { role: string; config: ClientConfig; env?: Record<string, string> };

/** Starts the worker (if any), waits until it takes tasks, then starts the client against it. */
async function launch(worker: WorkerLauncher | null, client: ClientSpec, gated: boolean): Promise<{ w: ServiceProcess | null; c: ServiceProcess }> {
  const w = worker ? worker.start() : null;
  if (worker && w) {
    try {
      await (worker.ready ? worker.ready(w) : w.waitForLine('worker ready', 30_000));
    } catch (err) {
      await w.stop(15_000);
      throw err;
    }
  }
  const c = spawnRole(`${client.role} client`, client.role, 'client', {
    ...client.env, BENCH_CLIENT: JSON.stringify({ ...client.config, ...(w ? { workerPid: w.pid } : {}), ...(gated ? { gated: true } : {}) }),
  });
  return { w, c };
}

/** One contender's worker and client, all its rounds in one go (ungated). */
export async function runContender(worker: WorkerLauncher, client: ClientSpec, timeoutMs = 240_000): Promise<RunOutput> {
  const { w, c } = await launch(worker, client, false);
  try {
    await watched(c.waitForLine('DONE', timeoutMs), c, w, client.role);
    return { rounds: reports(c), workerPeakRssMb: w ? procMemMb(w.pid, 'VmHWM') : NaN };
  } finally {
    await c.stop(10_000);
    await w?.stop(15_000);
  }
}

/** A contender whose processes stay up between its rounds (startContender). */
export interface LiveContender {
  /** Runs round `r` (the client waits at `READY r`); resolves with its report. */
  round(r: number): Promise<RoundReport>;
  /** Stops both processes; the rounds' reports and the worker's peak RSS. */
  finish(): Promise<RunOutput>;
}

/**
 * Starts a contender's worker (none for a floor, roles/floor.ts) and gated client and waits until its warm-up is done
 * (`READY 0`). Several live contenders then take turns round by round, so a slow minute
 * on the shared machine lands on every contender's rounds alike instead of on one
 * contender's whole run (the ratios between contenders were the figures that moved most).
 */
export async function startContender(worker: WorkerLauncher | null, client: ClientSpec, timeoutMs = 240_000): Promise<LiveContender> {
  const { w, c } = await launch(worker, client, true);
  try {
    await watched(c.waitForLine(/^READY 0$/, timeoutMs), c, w, client.role);
  } catch (err) {
    await c.stop(10_000);
    await w?.stop(15_000);
    throw err;
  }
  const rounds = client.config.rounds;
  return {
    round: async (r) => {
      c.signal('SIGUSR2');
      await watched(c.waitForLine(r + 1 < rounds ? new RegExp(`^READY ${r + 1}$`) : 'DONE', timeoutMs), c, w, client.role);
      const report = reports(c)[r];
      if (!report) throw new Error(`${client.role} client: no report for round ${r + 1}:\n${c.lines.slice(-15).join('\n')}`);
      return report;
    },
    finish: async () => {
      try {
        return { rounds: reports(c), workerPeakRssMb: w ? procMemMb(w.pid, 'VmHWM') : NaN };
      } finally {
        await c.stop(10_000);
        await w?.stop(15_000);
      }
    },
  };
}
