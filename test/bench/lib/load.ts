/**
 * The load generator every contender's client runs: submit tasks, see their results,
 * time both. Two shapes:
 *
 *   burst   n tasks with at most `concurrency` submits outstanding; throughput is
 *           n / (last result − first submit)
 *   paced   `rate` tasks per second for `seconds`, each submitted on its schedule (a
 *           timer catching up on every due task); latency is result seen − submit call
 *
 * A result may be seen before the submit call returns (the id comes back with the
 * answer): whichever arrives second completes the task.
 */
export interface LoadTarget {
  /** Submits task `i`; resolves with the id results will name. */
  submit(i: number): Promise<string>;
}

export interface LoadResult {
  tasks: number;
  wallMs: number;
  tasksPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Submits that failed (counted, not retried), and the first one's message. */
  errors: number;
  firstError?: string;
  /** For paced runs: the rate achieved while submitting, tasks/s. */
  submitRate: number;
  /** From the first submit until the last submit call returned, ms. */
  submitMs?: number;
}

import { pct } from './measure';

export class ResultTracker {
  private readonly submittedAt = new Map<string, number>();
  private readonly seenAt = new Map<string, number>();
  readonly latencies: number[] = [];
  lastResultAt = 0;
  done = 0;
  private waiter: { n: number; resolve: () => void } | undefined;

  /** Tells the tracker a result for `id` was seen now. */
  result(id: string, now = performance.now()): void {
    const t = this.submittedAt.get(id);
    if (t === undefined) {
      if (!this.seenAt.has(id)) this.seenAt.set(id, now);
      return;
    }
    this.submittedAt.delete(id);
    this.finish(now - t, now);
  }

  submitted(id: string, at: number): void {
    const seen = this.seenAt.get(id);
    if (seen !== undefined) {
      this.seenAt.delete(id);
      this.finish(seen - at, seen);
    } else this.submittedAt.set(id, at);
  }

  private finish(latency: number, at: number): void {
    this.latencies.push(latency);
    this.lastResultAt = Math.max(this.lastResultAt, at);
    this.done++;
    if (this.waiter && this.done >= this.waiter.n) this.waiter.resolve();
  }

  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.done >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${this.done}/${n} results within ${timeoutMs} ms; no result for ${[...this.submittedAt.keys()].slice(0, 5).join(', ')}`)), timeoutMs);
      this.waiter = { n, resolve: () => { clearTimeout(t); resolve(); } };
    });
  }
}

function summarize(tr: ResultTracker, tasks: number, firstAt: number, errors: number, submitRate: number): LoadResult {
  const wallMs = tr.lastResultAt - firstAt;
  return {
    tasks, wallMs, tasksPerS: (tasks / wallMs) * 1000, errors, submitRate,
    p50Ms: pct(tr.latencies, 50), p99Ms: pct(tr.latencies, 99), maxMs: pct(tr.latencies, 100),
  };
}

export async function burst(target: LoadTarget, tr: ResultTracker, o: { tasks: number; concurrency: number; timeoutMs?: number }): Promise<LoadResult> {
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const firstAt = performance.now();
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < o.tasks) {
      const i = next++;
      const at = performance.now();
      try {
        tr.submitted(await target.submit(i), at);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }));
  const submitMs = performance.now() - firstAt;
  if (errors === o.tasks) throw new Error(`every submit failed: ${firstError}`);
  await tr.waitFor(o.tasks - errors, o.timeoutMs ?? 120_000);
  return { ...summarize(tr, o.tasks - errors, firstAt, errors, NaN), firstError, submitMs };
}

export async function paced(target: LoadTarget, tr: ResultTracker, o: { rate: number; seconds: number; timeoutMs?: number }): Promise<LoadResult> {
  const tasks = Math.round(o.rate * o.seconds);
  let errors = 0;
  let issued = 0;
  const pending: Promise<void>[] = [];
  const firstAt = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(tasks, Math.floor(((performance.now() - firstAt) / 1000) * o.rate) + 1);
      while (issued < due) {
        const i = issued++;
        const at = performance.now();
        pending.push(target.submit(i).then((id) => tr.submitted(id, at), () => { errors++; }));
      }
      if (issued >= tasks) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const submitRate = (tasks / (performance.now() - firstAt)) * 1000;
  await Promise.all(pending);
  await tr.waitFor(tasks - errors, o.timeoutMs ?? 60_000);
  return summarize(tr, tasks - errors, firstAt, errors, submitRate);
}
