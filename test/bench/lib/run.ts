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

export async function runContender(worker: WorkerLauncher, client: { role: string; config: ClientConfig; env?: Record<string, string> }, timeoutMs = 240_000): Promise<RunOutput> {
  const w = worker.start();
  let c: ServiceProcess | undefined;
  try {
    await (worker.ready ? worker.ready(w) : w.waitForLine('worker ready', 30_000));
    c = spawnRole(`${client.role} client`, client.role, 'client', {
      ...client.env, BENCH_CLIENT: JSON.stringify({ ...client.config, workerPid: w.pid }),
    });
    await Promise.race([
      c.waitForLine('DONE', timeoutMs),
      c.exited().then(({ code }) => { throw new Error(`${client.role} client exited with ${code}:\n${c?.lines.slice(-15).join('\n')}`); }),
      w.exited().then(({ code }) => { throw new Error(`${w.name} exited with ${code}:\n${w.lines.slice(-15).join('\n')}`); }),
    ]);
    const rounds = c.lines.filter((l) => l.startsWith('ROUND ')).map((l) => JSON.parse(l.slice(6)) as RoundReport);
    return { rounds, workerPeakRssMb: procMemMb(w.pid, 'VmHWM') };
  } finally {
    await c?.stop(10_000);
    await w.stop(15_000);
  }
}
