/**
 * Solving one task: submit phase, then poll phase, then the outcome transition.
 *
 *   claimed ──(no checkpoint)──▶ submit ──▶ checkpoint ──▶ poll ──▶ complete
 *   claimed ──(checkpoint)─────────────────────────────────▶ poll ──▶ complete
 *
 * Guarantees:
 * - The provider's task id is written (`checkpointTask`) before anything else happens,
 *   so whoever resumes this task polls that id instead of paying for a second solve.
 * - Every path ends in `completeTask` (solved, or failed with a code) unless the worker
 *   is stopping, in which case the entry stays pending for another worker to resume.
 * - Submit errors that may clear (busy, network, auth) are retried with capped
 *   exponential backoff until the task's deadline; permanent ones fail the task.
 * - The provider of a new submit is chosen by the failover router: the first healthy
 *   one, moving on to the next when one refuses. A task with a checkpoint stays with
 *   the provider named there.
 */
import type { Logger } from '@solvestream/core';
import type { Solution, TaskEntry, Transitions, TaskSpec } from '@solvestream/contracts';
import { ProviderError, type ProviderErrorClass } from './provider/errors';
import type { ProviderClient } from './provider/client';
import type { Poller } from './provider/poller';
import { needsSingleGet } from './provider/protocol-v1';
import { LeaseLostError } from './send-guard';
import {
  ATTR_CHECKPOINT, ATTR_POLL_COUNT, ATTR_PROVIDER, ATTR_PROVIDER_TASK_ID, ATTR_TASK_ATTEMPT, ATTR_TASK_ID, ATTR_TASK_TYPE,
  endWithError, injectTrace, startPhaseSpan, startSendSpan, withSpan,
} from '@solvestream/telemetry';
import type { ProviderRouter } from './provider/router';

export interface Provider {
  client: ProviderClient;
  poller: Poller;
}

export interface SolveDeps {
  /** Providers by name: a checkpoint names the one that holds a task, and it is polled there. */
  providers: ReadonlyMap<string, Provider>;
  /** Picks the provider for a new submit (failover, breakers, balance); see provider/router.ts. */
  router: ProviderRouter;
  /** The transitions solving makes (the worker batches checkpoint and complete: write-batch.ts). */
  transitions: Pick<Transitions, 'checkpoint' | 'complete' | 'requeue'>;
  logger: Logger;
  clock: () => number;
  consumer: string;
  /** Delay from provider submit to the first poll, per type, ms. */
  firstPollDelayMs: (type: TaskSpec['type']) => number;
  isStopping: () => boolean;
  /** Failures (reclaims + retries) after which a task is dead-lettered. */
  maxFailures: number;
  /** Holds each paid-for checkpoint until the outcome, to write it again after a Redis wipe (checkpoint-keeper.ts). */
  checkpoints?: CheckpointLedger;
}

/** What solving needs of the CheckpointKeeper. */
export interface CheckpointLedger {
  remember(taskId: string, c: KeptCheckpoint): void;
  recorded(taskId: string, c?: KeptCheckpoint): void;
  forget(taskId: string): void;
}
type KeptCheckpoint = { provider: string; providerTaskId: string; attempt: number; deadline: number };

/**
 * Per-task lease handle from the worker (leases.ts). `confirm()` answers whether a paid
 * request may leave now: true only while the lease is known to have most of its length
 * left (renewing it first when needed); false when the entry was reclaimed or the lease
 * could not be confirmed. `lost` is set when a periodic renewal finds the entry gone.
 */
export interface LeaseHandle {
  confirm(): Promise<boolean>;
  lost: LeaseLoss;
}

/**
 * A one-way flag: set once, when the lease is found lost. One per held entry, so it is
 * kept small: an AbortController (an EventTarget with two Maps, plus a listener) cost
 * ≈ 0.6 KB of heap per task in flight; this is a boolean and, once someone waits on
 * it, one promise.
 */
export class LeaseLoss {
  private isSet = false;
  private wake: ((v: 'lost') => void) | undefined;
  private waiting: Promise<'lost'> | undefined;

  get lost(): boolean {
    return this.isSet;
  }

  set(): void {
    if (this.isSet) return;
    this.isSet = true;
    this.wake?.('lost');
  }

  /** Resolves 'lost' once set (at once when it already is); never rejects. */
  whenLost(): Promise<'lost'> {
    this.waiting ??= this.isSet ? Promise.resolve('lost') : new Promise<'lost'>((resolve) => (this.wake = resolve));
    return this.waiting;
  }
}

/**
 * solved | failed     this call published the outcome
 * duplicate           the task already had an outcome; ours was recorded, not published
 * retried             transient failure: handed to the delayed set (or dead-lettered when
 *                     it failed too often — then the failed result is published)
 * abandoned           the worker is stopping: the caller hands the entry back
 * lost                the lease was lost (reclaimed elsewhere): nothing to do here
 */
export type SolveEnd = 'solved' | 'failed' | 'duplicate' | 'retried' | 'abandoned' | 'lost';

const BACKOFF: Record<Exclude<ProviderErrorClass, 'permanent'>, [base: number, cap: number]> = {
  retry: [500, 10_000],
  capacity: [2_000, 30_000],
  failover: [5_000, 60_000],
  auth: [10_000, 60_000],
};

export function backoffMs(cls: ProviderErrorClass, attempt: number): number {
  if (cls === 'permanent') return 0;
  const [base, cap] = BACKOFF[cls];
  const exp = Math.min(cap, base * 2 ** Math.min(attempt, 10));
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // "equal jitter"
}

export async function solveTask(
  d: SolveDeps,
  entry: TaskEntry,
  entryId: string,
  checkpoint: { provider: string; providerTaskId: string } | undefined,
  lease: LeaseHandle,
  /** Filled in for the caller: the provider named in the outcome (metrics label). */
  report: { provider?: string } = {},
): Promise<SolveEnd> {
  // The task's fields on each of its lines. Not a pino child: building one per task
  // (bindings serialised and redacted up front) cost ≈ 3 % of the worker's CPU while
  // 5,000 tasks were being submitted, and it lived as long as the task.
  const at = { taskId: entry.taskId, attempt: entry.attempt };
  const spec = { type: entry.type, params: entry.params } as TaskSpec;

  const finish = async (r: { solution?: Solution; errorCode?: string; errorMessage?: string; provider?: string; providerTaskId?: string }): Promise<SolveEnd> => {
    const outcome = r.solution ? 'solved' : 'failed';
    report.provider = r.provider;
    // `send results`: the result entry carries this span's context, so readers of the
    // results stream (long-polls, webhooks) continue the task's trace. The span is the
    // complete call: the worker's command connection makes no Redis spans (main.ts).
    const span = startSendSpan('results', entry.taskId, { 'solvestream.outcome': outcome });
    const done = await withSpan(span, () => d.transitions.complete({
      result: {
        taskId: entry.taskId, outcome, tenant: entry.tenant, type: entry.type, attempt: entry.attempt,
        completedAt: d.clock(), solution: r.solution, errorCode: r.errorCode, errorMessage: r.errorMessage,
        provider: r.provider, providerTaskId: r.providerTaskId, trace: { ...entry.trace, ...injectTrace() },
      },
      priority: entry.priority,
      entryId,
      consumer: d.consumer,
      now: d.clock(),
    })).then((res) => { span.setAttribute('solvestream.published', res.published); return res; })
      .finally(() => span.end());
    d.checkpoints?.forget(entry.taskId);
    if (!done.published) {
      d.logger.warn({ ...at, status: done.status }, 'task already had an outcome; this one was recorded as a duplicate');
      return 'duplicate';
    }
    d.logger.info({ ...at, outcome, errorCode: r.errorCode }, 'task finished');
    return outcome;
  };
  const deadlineFailure = (providerName?: string, providerTaskId?: string) =>
    finish({ errorCode: 'ERROR_CAPTCHA_UNSOLVABLE', errorMessage: 'deadline passed before the provider answered', provider: providerName, providerTaskId });

  /** Transient failure: another delivery later, through the delayed set (backoff + jitter). */
  const retryLater = async (err: ProviderError): Promise<SolveEnd> => {
    const dueAt = d.clock() + backoffMs(err.errorClass, entry.attempt - 1);
    if (dueAt >= entry.deadline) return deadlineFailure(err.provider);
    const r = await d.transitions.requeue({
      entry, entryId, consumer: d.consumer, mode: 'retry', reason: `${err.code}: ${err.message}`.slice(0, 300),
      maxFailures: d.maxFailures, dueAt, errorCode: err.code, now: d.clock(),
    });
    d.checkpoints?.forget(entry.taskId);
    d.logger.warn({ ...at, code: err.code, class: err.errorClass, outcome: r.kind, dueInMs: dueAt - d.clock() }, 'submit failed; retry scheduled');
    if (r.kind === 'not-pending' || r.kind === 'not-owner') return 'lost';
    return 'retried';
  };

  // Resume: a known provider id is polled, never resubmitted.
  let provider = checkpoint ? d.providers.get(checkpoint.provider) : undefined;
  let providerTaskId = checkpoint?.providerTaskId;
  // A resumed task was submitted a while ago: poll it at once.
  let firstPollAt = d.clock();
  if (checkpoint && !provider) {
    d.logger.error({ ...at, provider: checkpoint.provider }, 'task was submitted to a provider that is no longer configured; submitting again');
    providerTaskId = undefined;
  }
  if (provider && providerTaskId) {
    d.checkpoints?.recorded(entry.taskId, { provider: provider.client.name, providerTaskId, attempt: entry.attempt, deadline: entry.deadline });
  }

  if (!providerTaskId) {
    if (d.isStopping()) return 'abandoned';
    if (d.clock() >= entry.deadline) return deadlineFailure();
    // A submit costs money: make sure the entry is still ours (not reclaimed while we were frozen).
    if (!(await lease.confirm())) return 'lost';
    const span = startPhaseSpan('submit', { [ATTR_TASK_ID]: entry.taskId, [ATTR_TASK_TYPE]: entry.type, [ATTR_TASK_ATTEMPT]: entry.attempt });
    let accepted: Awaited<ReturnType<typeof d.router.submit>>;
    try {
      // Re-checked when the request actually leaves the HTTP queue (send-guard.ts).
      accepted = await d.router.submit(spec, () => lease.confirm());
    } catch (err) {
      endWithError(span, err instanceof ProviderError ? err.code : err instanceof LeaseLostError ? 'LEASE_LOST' : 'INTERNAL', err instanceof Error ? err.message : undefined);
      if (err instanceof LeaseLostError) return 'lost';
      if (!(err instanceof ProviderError)) throw err;
      if (err.errorClass === 'permanent') return finish({ errorCode: err.code, errorMessage: err.message, provider: err.provider });
      return retryLater(err);
    }
    provider = accepted.provider;
    providerTaskId = accepted.providerTaskId;
    firstPollAt = d.clock() + d.firstPollDelayMs(entry.type);
    span.setAttributes({ [ATTR_PROVIDER]: provider.client.name, [ATTR_PROVIDER_TASK_ID]: providerTaskId });
    // Kept here first: if the write below fails, or lands in a Redis that is then wiped,
    // the keeper writes it again so no later delivery pays for this task a second time.
    d.checkpoints?.remember(entry.taskId, { provider: provider.client.name, providerTaskId, attempt: entry.attempt, deadline: entry.deadline });
    // The submit phase ends with its checkpoint write (its Redis call has no span of its
    // own: untracedCommands in main.ts).
    let recorded: Awaited<ReturnType<typeof d.transitions.checkpoint>>;
    try {
      recorded = await d.transitions.checkpoint({
        taskId: entry.taskId, provider: provider.client.name, providerTaskId, attempt: entry.attempt,
        consumer: d.consumer, now: d.clock(),
      });
    } catch (err) {
      endWithError(span, 'CHECKPOINT_FAILED', err instanceof Error ? err.message : undefined);
      throw err;
    }
    span.setAttribute(ATTR_CHECKPOINT, recorded);
    if (recorded === 'stale') endWithError(span, 'LEASE_LOST');
    else span.end();
    if (recorded === 'recorded') d.checkpoints?.recorded(entry.taskId);
    if (recorded === 'stale') {
      d.logger.warn({ ...at, providerTaskId }, 'lost the lease before the checkpoint; a newer delivery owns this task');
      return 'lost';
    }
    if (recorded === 'terminal') {
      // Someone else finished this task meanwhile: ack our entry as a duplicate.
      return finish({ errorCode: 'DUPLICATE', errorMessage: 'task finished elsewhere', provider: provider.client.name, providerTaskId });
    }
    d.logger.debug({ ...at, provider: provider.client.name, providerTaskId }, 'provider accepted task');
  }
  if (!provider || !providerTaskId) throw new Error('unreachable: no provider id after submit phase');

  const pollSpan = startPhaseSpan('poll', {
    [ATTR_TASK_ID]: entry.taskId, [ATTR_TASK_TYPE]: entry.type, [ATTR_TASK_ATTEMPT]: entry.attempt,
    [ATTR_PROVIDER]: provider.client.name, [ATTR_PROVIDER_TASK_ID]: providerTaskId, 'solvestream.resumed': checkpoint !== undefined,
  });
  // A lost lease stops this watch (no more polls for a task that is no longer ours). Lost
  // already: do not watch at all (a watch replaces one of the same id, maybe the new owner's).
  if (lease.lost.lost) {
    endWithError(pollSpan, 'LEASE_LOST');
    return 'lost';
  }
  const outcome = await provider.poller.watch(providerTaskId, entry.type, {
    firstPollAt, deadline: entry.deadline, single: needsSingleGet(spec), trace: pollSpan.spanContext(), stop: lease.lost.whenLost(),
  });
  if (outcome.state === 'cancelled' && lease.lost.lost) {
    endWithError(pollSpan, 'LEASE_LOST');
    return 'lost';
  }
  pollSpan.setAttributes({ [ATTR_POLL_COUNT]: outcome.polls, 'solvestream.poll.state': outcome.state });
  if (outcome.state === 'error') endWithError(pollSpan, outcome.error.code, outcome.error.message);
  else pollSpan.end();
  const name = provider.client.name;
  switch (outcome.state) {
    case 'ready':
      return finish({ solution: outcome.solution, provider: name, providerTaskId });
    case 'error':
      return finish({ errorCode: outcome.error.code, errorMessage: outcome.error.message, provider: name, providerTaskId });
    case 'deadline':
      return deadlineFailure(name, providerTaskId);
    case 'cancelled':
      return 'abandoned';
  }
}
