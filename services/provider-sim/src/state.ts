/**
 * The simulator's state, built from its options: accounts, tasks, faults and
 * counters, and the provider rules over them. `buildSimulator` exposes this so
 * tests can inspect or change it directly.
 */
import { AccountStore } from './accounts';
import { FaultEngine } from './faults';
import { TASK_KINDS, type TaskKind } from './kinds';
import { LatencyModel } from './latency';
import { toMicros } from './money';
import type { SimulatorOptions } from './options';
import { Provider } from './provider';
import { stream, type Random } from './rng';
import { Stats } from './stats';
import { TaskStore } from './tasks';

export interface SimulatorState {
  readonly options: SimulatorOptions;
  readonly accounts: AccountStore;
  readonly tasks: TaskStore;
  readonly faults: FaultEngine;
  readonly stats: Stats;
  readonly provider: Provider;
  readonly latency: LatencyModel;
  /** Random stream for fault details (nonsense bodies). */
  readonly faultRandom: Random;
  /** Back to the start-up state: seeded accounts, `options.faults`, no tasks, zero counters. */
  reset(): void;
}

export function createState(options: SimulatorOptions): SimulatorState {
  const { seed, now } = options;
  const stats = new Stats();
  const accounts = new AccountStore({
    seeds: options.accounts,
    autoAccounts: options.autoAccounts,
    defaultBalance: options.defaultBalance,
    defaultThreads: options.defaultThreads,
  });
  const faultRandom = stream(seed, 'fault-details');
  const faults = new FaultEngine(stream(seed, 'faults'), now);
  faults.reset(options.faults);
  const latency = new LatencyModel(options.latency, options.latencyScale, stream(seed, 'latency'));
  const priceMicros = Object.fromEntries(TASK_KINDS.map((k) => [k, toMicros(options.prices[k])])) as Record<TaskKind, number>;
  const tasks = new TaskStore({
    latency,
    priceMicros,
    unsolvableRate: () => faults.unsolvableRate(options.unsolvableRate),
    outcomeRandom: stream(seed, 'outcome'),
    tokenRandom: stream(seed, 'tokens'),
    stats,
    now,
    maxTasks: options.maxTasks,
  });
  const provider = new Provider({ accounts, tasks, stats, now, busyCode: options.busyCode, reportWindowMs: options.reportWindowMs });
  return {
    options,
    accounts,
    tasks,
    faults,
    stats,
    provider,
    latency,
    faultRandom,
    reset() {
      tasks.clear();
      accounts.reset();
      stats.reset();
      faults.reset(options.faults);
    },
  };
}
