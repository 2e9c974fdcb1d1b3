/**
 * Long-poll of one task: `GET /v1/tasks/:id?wait=SECONDS`.
 *
 * Answers as soon as the task reaches a terminal state (solved, failed, cancelled),
 * or with its current state when the wait runs out, the service shuts down, or the
 * task does not exist. Guarantees:
 *
 * - No lost wake-up: each round registers a watch BEFORE reading the projection, so a
 *   result published between the read and the wait still wakes it.
 * - A wake-up is a hint, the projection is the truth: every wake (a result, or
 *   `recheck` after Redis came back) is followed by a fresh read.
 * - Redis blips are waited out: before the first successful read an error is thrown
 *   at once (the route answers 503); after it, failed reads are retried with backoff
 *   until the deadline. Only a read that still fails at the deadline is an error.
 * - A client that goes away (`signal` aborted) stops the wait without another read.
 */
import { isTerminal, type TaskView } from '@solvestream/contracts';
import type { ResultsNotifier, WakeReason } from './results-listener';

export interface LongPollOptions {
  taskId: string;
  /** How long to wait at most, ms. */
  waitMs: number;
  notifier: ResultsNotifier;
  /** Reads the projection; undefined when the task does not exist. */
  read: () => Promise<TaskView | undefined>;
  /** Aborted when the client disconnects. */
  signal?: AbortSignal;
  /** Delay before re-reading after `failures` failed reads, ms. Default 100 ms doubling to 2 s. */
  retryMs?: (failures: number) => number;
}

type Outcome = WakeReason | 'timeout' | 'aborted';

const defaultRetry = (failures: number): number => Math.min(100 * 2 ** Math.min(failures, 5), 2_000);

/** Resolves with whichever comes first: the watch firing, `ms` passing, or `signal` aborting. */
function race(woken: Promise<WakeReason>, ms: number, signal?: AbortSignal): Promise<Outcome> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const finish = (o: Outcome): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = (): void => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort);
    void woken.then(finish);
  });
}

export async function awaitTaskOutcome(o: LongPollOptions): Promise<TaskView | undefined> {
  const deadline = performance.now() + o.waitMs;
  const remaining = (): number => deadline - performance.now();
  const retryMs = o.retryMs ?? defaultRetry;
  let view: TaskView | undefined;
  let seen = false;
  let failures = 0;
  let final = false;

  for (;;) {
    const watch = o.notifier.watch(o.taskId);
    try {
      try {
        view = await o.read();
        seen = true;
        failures = 0;
      } catch (err) {
        if (!seen || final || remaining() <= 0) throw err;
        const outcome = await race(watch.woken, Math.min(retryMs(failures++), remaining()), o.signal);
        if (outcome === 'aborted') return view;
        if (outcome === 'closed') final = true;
        continue;
      }
      if (final || !view || isTerminal(view.status) || remaining() <= 0) return view;
      const outcome = await race(watch.woken, remaining(), o.signal);
      if (outcome === 'aborted') return view;
      if (outcome === 'timeout' || outcome === 'closed') final = true;
    } finally {
      watch.cancel();
    }
  }
}
