/**
 * The one submit path behind every API (REST, in.php, createTask):
 *
 *   1. a task id: a nanoid for REST, an all-digit id (allocateId.lua) for the gateway
 *   2. ONE atomic step in submitTask.lua: the idempotency check (the tenant's key already
 *      names a task → that task, before anything else, so a replay consumes no
 *      admission), admission (degradation mode, queue depth, the tenant's open-task cap
 *      and rate; records the task as open), then projection queued + events submitted +
 *      lane entry, atomically, with the idempotency key. A refusal writes nothing. (A GET
 *      of the key before the call was dropped: the script checks it anyway, atomically.)
 *
 * The submits of one event-loop turn (every request read in it) share ONE script call
 * (WriteBatch, @solvestream/core): each is still its own atomic step with its own
 * answer, in the order they were made. A call that fails answers every submit of its
 * turn with its error (→ 503): as with a lost reply, a task may have been created all
 * the same (a script error part-way through a call leaves the tasks before it written);
 * a client retrying with its idempotency key gets that task.
 *
 * Every task gets `deadline = submit + DEFAULT_DEADLINE_SECONDS[type]`; the worker fails
 * it there, and the read path (task-reader.ts) fails it `expireGraceMs` later if no
 * worker did, so every task ends.
 */
import { WriteBatch } from '@solvestream/core';
import { endWithError, injectTrace, startSendSpan, untraced, withSpan } from '@solvestream/telemetry';
import { createHash } from 'node:crypto';
import {
  DEFAULT_DEADLINE_SECONDS,
  decodeProjection,
  type Admission,
  type AdmitRefusal,
  type Keyspace,
  type Priority,
  type SubmitResult,
  type SubmittedInput,
  type TaskEntry,
  type TaskSpec,
  type TaskView,
  type Transitions,
} from '@solvestream/contracts';
import type { Redis } from 'ioredis';
import { newTaskId } from './ids';
import type { Tenant } from './tenants';

export interface SubmitDeps {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  admission: Admission;
  clock: () => number;
  /** Back-pressure cap (lanes + delayed); 0 = none. */
  maxQueueDepth: number;
  /** A task counts as open until deadline + this, ms. */
  expireGraceMs: number;
  /** Called with every outcome (created, existing, refused), e.g. to count submits. */
  onOutcome?: (command: SubmitCommand, outcome: SubmitOutcome) => void;
}

export type Source = 'rest' | 'v1' | 'json-api';

export interface SubmitCommand {
  tenant: Tenant;
  spec: TaskSpec;
  priority: Priority;
  source: Source;
  idempotencyKey?: string;
  callbackUrl?: string;
  /** Gateway tasks get all-digit ids. */
  numericId?: boolean;
}

export type RefusalReason = 'mode' | 'queue-full' | 'tenant-full' | 'rate-limited';

export type SubmitOutcome =
  | { kind: 'created'; entry: TaskEntry }
  /** The idempotency key already named a task; `sameRequest` false when it was used for another request. */
  | { kind: 'existing'; taskId: string; view: TaskView | undefined; sameRequest: boolean }
  | { kind: 'refused'; reason: RefusalReason; retryAfterMs: number; detail: string };

/** Hash of what identifies a request for idempotency (type, params, priority, callback). */
export function requestHash(c: SubmitCommand): string {
  return createHash('sha256')
    .update(JSON.stringify([c.spec.type, c.spec.params, c.priority, c.callbackUrl ?? '']))
    .digest('hex');
}

/** How long a refused client should wait, per reason, when the script does not say. */
const RETRY_AFTER_MS: Record<Exclude<RefusalReason, 'rate-limited'>, number> = {
  mode: 30_000,
  'queue-full': 5_000,
  'tenant-full': 5_000,
};

export class SubmitService {
  /** The submits of one event-loop turn, in one script call; no Redis span of its own (see `send`). */
  private readonly batch: WriteBatch<SubmittedInput, SubmitResult | AdmitRefusal>;

  constructor(private readonly d: SubmitDeps) {
    this.batch = new WriteBatch((inputs: SubmittedInput[]) => untraced(() => d.transitions.submitBatch(inputs)));
  }

  /** Submits one task; every outcome is also reported to `onOutcome` (metrics). */
  async submit(c: SubmitCommand): Promise<SubmitOutcome> {
    const outcome = await this.submitOnce(c);
    this.d.onOutcome?.(c, outcome);
    return outcome;
  }

  private async submitOnce(c: SubmitCommand): Promise<SubmitOutcome> {
    const { d } = this;
    const hash = c.idempotencyKey === undefined ? undefined : requestHash(c);
    const now = d.clock();
    const taskId = c.numericId ? await d.admission.allocateNumericId(now) : newTaskId();
    const deadline = now + DEFAULT_DEADLINE_SECONDS[c.spec.type] * 1000;
    // `send <lane>` is the task's creation context; the entry carries it to the workers.
    const span = startSendSpan(d.keys.lane(c.priority), taskId, { 'solvestream.task.type': c.spec.type, 'solvestream.source': c.source });
    const entry: TaskEntry = {
      taskId, type: c.spec.type, params: c.spec.params, tenant: c.tenant.id, priority: c.priority,
      attempt: 1, submittedAt: now, deadline, trace: withSpan(span, () => injectTrace()),
    };
    const projection: Record<string, string> = { source: c.source };
    if (c.callbackUrl) projection.callbackUrl = c.callbackUrl;
    if (hash) projection.requestHash = hash;
    const admission = {
      openUntil: deadline + d.expireGraceMs, ratePerSecond: c.tenant.ratePerSecond, burst: c.tenant.burst,
      maxOpen: c.tenant.maxOpen, maxQueueDepth: d.maxQueueDepth,
    };
    let r;
    try {
      // Admission and submit are one atomic step: a refusal writes nothing, a replay
      // consumes nothing. `send <lane>` times it (the shared call makes no span).
      r = await this.batch.run({ entry, idempotencyKey: c.idempotencyKey, projection, now, admission });
    } catch (err) {
      // Nothing to undo: this task's step ran whole or not at all (an error may still come
      // after it ran: a lost reply, or a later task of the shared call failing), and an
      // open-task record it wrote belongs to a task that exists. The client's retry with
      // its idempotency key finds that task (see the module comment).
      endWithError(span, 'SUBMIT_FAILED', err instanceof Error ? err.message : undefined);
      throw err;
    }
    if ('admitted' in r) {
      // Not an error of the pipeline: the client is told 429 / its protocol's refusal.
      span.setAttribute('solvestream.refused', r.reason);
      span.end();
      return this.refusal(c, r);
    }
    if (r.created) span.setAttribute('messaging.message.id', r.entryId);
    span.end();
    if (!r.created) return this.existing(r.taskId, hash);
    return { kind: 'created', entry };
  }

  private refusal(c: SubmitCommand, r: AdmitRefusal): SubmitOutcome {
    switch (r.reason) {
      case 'rate-limited':
        return { kind: 'refused', reason: 'rate-limited', retryAfterMs: r.retryAfterMs, detail: `over ${c.tenant.ratePerSecond} submits per second` };
      case 'mode':
        return { kind: 'refused', reason: 'mode', retryAfterMs: RETRY_AFTER_MS.mode, detail: `the service is in ${r.mode} mode and only takes higher priorities` };
      case 'queue-full':
        return { kind: 'refused', reason: 'queue-full', retryAfterMs: RETRY_AFTER_MS['queue-full'], detail: `the queue holds ${r.depth} tasks` };
      case 'tenant-full':
        return { kind: 'refused', reason: 'tenant-full', retryAfterMs: RETRY_AFTER_MS['tenant-full'], detail: `${r.open} unfinished tasks (the cap is ${c.tenant.maxOpen})` };
    }
  }

  private async existing(taskId: string, hash: string | undefined): Promise<SubmitOutcome> {
    const h = await this.d.redis.hgetall(this.d.keys.task(taskId));
    const stored = h.requestHash;
    return { kind: 'existing', taskId, view: decodeProjection(taskId, h), sameRequest: !stored || !hash || stored === hash };
  }
}
