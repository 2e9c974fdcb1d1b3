/**
 * Tasks and their life cycle.
 *
 *   submit ──► solving ──(readyAt reached)──► solved      (charged, thread freed)
 *                                       └───► unsolvable  (not charged, thread freed)
 *
 * The outcome (latency, solvable or not, the answer) is drawn at submit time from
 * seeded streams, so a run is reproducible. Transitions happen lazily: `settle()`
 * moves every task whose `readyAt` has passed (a min-heap keeps that O(log n)),
 * and every request settles before it reads state. No timers, so an injected clock
 * drives everything and closing the simulator leaves nothing running.
 */
import type { Account } from './accounts';
import { MinHeap } from './heap';
import type { TaskKind } from './kinds';
import type { LatencyModel } from './latency';
import { fromMicros, type Micros } from './money';
import type { Random } from './rng';
import { fingerprint, type TaskSpec } from './spec';
import type { Stats } from './stats';
import { makeSolution, type Solution } from './tokens';

export type TaskState = 'solving' | 'solved' | 'unsolvable';

export interface Task {
  /** All digits, below 2^53. */
  id: number;
  key: string;
  via: 'v1' | 'json';
  spec: TaskSpec;
  /** The submitted parameters, without the key and with image bytes summarised. */
  params: Record<string, unknown>;
  fingerprint: string;
  /** Client address, reported back as `ip` by `getTaskResult`. */
  ip: string;
  state: TaskState;
  submittedAt: number;
  readyAt: number;
  finishedAt?: number;
  price: Micros;
  charged: boolean;
  polls: number;
  report?: { kind: 'good' | 'bad'; at: number };
  /** Decided at submit; revealed once solved. */
  readonly pending: { solvable: boolean; solution: Solution };
  solution?: Solution;
}

export interface TaskStoreOptions {
  latency: LatencyModel;
  /** Price of one solve in micro-units, by kind. */
  priceMicros: Record<TaskKind, Micros>;
  /** Probability that a task submitted now ends unsolvable. */
  unsolvableRate: () => number;
  outcomeRandom: Random;
  tokenRandom: Random;
  stats: Stats;
  now: () => number;
  /** Keep at most this many tasks; the oldest finished ones are forgotten first. */
  maxTasks: number;
}

export class TaskStore {
  private readonly tasks = new Map<number, Task>();
  private readonly due = new MinHeap<Task>();
  private lastId: number;

  constructor(private readonly options: TaskStoreOptions) {
    // Ids start at (start time in ms) × 1000, so a restarted simulator never reissues an old id.
    this.lastId = options.now() * 1000;
  }

  /** Creates a task for `account`, holding one of its threads. Admission is the caller's job. */
  create(account: Account, spec: TaskSpec, params: Record<string, unknown>, via: Task['via'], ip: string): Task {
    const o = this.options;
    const now = o.now();
    const latency = o.latency.sample(spec.kind);
    const solvable = o.outcomeRandom() >= o.unsolvableRate();
    const task: Task = {
      id: ++this.lastId,
      key: account.key,
      via,
      spec,
      params,
      fingerprint: fingerprint(spec),
      ip,
      state: 'solving',
      submittedAt: now,
      readyAt: now + latency,
      price: o.priceMicros[spec.kind],
      charged: false,
      polls: 0,
      pending: { solvable, solution: makeSolution(spec, o.tokenRandom) },
    };
    account.busy++;
    this.tasks.set(task.id, task);
    this.due.push(task.readyAt, task);
    this.prune();
    return task;
  }

  /** Finishes every task whose solve time has passed: charge + free the thread, or mark unsolvable. */
  settle(accountOf: (key: string) => Account | undefined): void {
    const now = this.options.now();
    while (this.due.peekAt() <= now) {
      const task = this.due.pop();
      if (!task || task.state !== 'solving') continue;
      task.finishedAt = task.readyAt;
      const account = accountOf(task.key);
      if (account) account.busy = Math.max(0, account.busy - 1);
      if (task.pending.solvable) {
        task.state = 'solved';
        task.solution = task.pending.solution;
        task.charged = true;
        if (account) account.balance -= task.price;
        const c = this.options.stats.key(task.key);
        c.charges++;
        c.chargedAmount = Math.round((c.chargedAmount + fromMicros(task.price)) * 1e6) / 1e6;
      } else {
        task.state = 'unsolvable';
      }
    }
  }

  priceOf(kind: TaskKind): Micros {
    return this.options.priceMicros[kind];
  }

  get(id: number): Task | undefined {
    return this.tasks.get(id);
  }

  all(): IterableIterator<Task> {
    return this.tasks.values();
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Forgets every task (in-flight ones too; the caller resets the accounts' threads). */
  clear(): void {
    this.tasks.clear();
    this.due.clear();
  }

  private prune(): void {
    const max = this.options.maxTasks;
    if (this.tasks.size <= max) return;
    // Drop down to 90% in one pass so pruning is amortised, oldest finished first.
    const target = Math.floor(max * 0.9);
    for (const [id, task] of this.tasks) {
      if (this.tasks.size <= target) break;
      if (task.state !== 'solving') this.tasks.delete(id);
    }
  }
}

/** Parses a v1 task id: all digits and below 2^53, else undefined. */
export function parseTaskId(text: unknown): number | undefined {
  const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim() : '';
  if (!/^\d{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
