/**
 * Folds archived entries into what a restore writes: the history streams verbatim, one
 * projection per task, and a fresh lane entry for every task without a terminal outcome.
 *
 * Per task, from the archive:
 *   lane entries    the task's spec (type, params, tenant, priority, deadline); the last one wins
 *   events          createdAt and the client's idempotency key (submitted), the highest attempt, the provider checkpoint
 *                   (provider-submitted), failures (retried + reclaimed), dead-letter id
 *   results         the terminal outcome; the first result per task wins (as completeTask)
 *
 * Terminal task  → projection as completeTask/requeueTask/cancelTask leave it.
 * Unfinished     → projection `queued` + a lane entry carrying the checkpoint, so the next
 *                  worker polls the provider's existing id instead of paying again (restore.ts
 *                  holds one without a checkpoint in the delayed set first). A task
 *                  that was in flight (claimed) gets attempt + 1, like a hand-back.
 * Unrecoverable  → no result and no archived lane entry (its entry was added and deleted
 *                  faster than the archive lag): listed in the report, nothing written.
 *                  A task with nothing but post-outcome events (what compaction leaves of
 *                  a finished task whose late `duplicate` landed in a newer segment) is skipped.
 *
 * Pure and deterministic: the same archive always folds to the same plan.
 */
import {
  decodeEventEntry, decodeResultEntry, decodeTaskEntry, encodeTaskEntry, fieldsToObject,
  type Priority, type TaskEntry,
} from '@solvestream/contracts';
import type { ArchivedEntry } from './segment';
import { compareIds } from './streams';

export interface TaskPlan {
  taskId: string;
  /** Projection hash field/values. */
  projection: Record<string, string>;
  /** Present for unfinished tasks: the lane entry to add (fields) and its lane. */
  requeue?: { priority: Priority; fields: string[] };
  /** Epoch ms of the outcome (terminal tasks), for the projection TTL. */
  completedAt?: number;
  /** The client's idempotency key of the submit and when it expires (epoch ms). */
  idem?: { tenant: string; key: string; expiresAt: number };
}

export interface RestorePlan {
  /** Logical history stream → entries in id order (lanes excluded). */
  history: Map<string, ArchivedEntry[]>;
  tasks: TaskPlan[];
  unrecoverable: string[];
  /** Highest numeric task id seen (gateway ids from `id-seq`), 0 if none. */
  maxNumericId: number;
  /** Highest entry id in the whole archive (`0-0` when empty). */
  maxId: string;
}

interface Facts {
  entry?: TaskEntry;
  createdAt?: number;
  lastAt: number;
  attempt: number;
  inFlight: boolean;
  checkpoint?: { provider: string; providerTaskId: string; at: number };
  failures: number;
  /** Some event other than the post-outcome ones (a task compaction dropped leaves only those). */
  lifecycle: boolean;
  deadLetter?: string;
  idem?: { key: string; expiresAt: number };
  result?: { id: string; fields: Record<string, string>; completedAt: number; outcome: string; attempt: number; tenant: string; type: string };
}

const IN_FLIGHT = new Set(['claimed', 'provider-submitted']);
const REQUEUED = new Set(['submitted', 'promoted', 'retried', 'reclaimed', 'handed-back', 'replayed']);
/** Events that only ever follow an outcome (see compact.ts). */
const POST_OUTCOME = new Set(['duplicate', 'reported', 'webhook-delivered', 'webhook-failed', 'webhook-abandoned']);

export function foldArchive(entries: readonly ArchivedEntry[]): RestorePlan {
  const history = new Map<string, ArchivedEntry[]>();
  const facts = new Map<string, Facts>();
  const get = (id: string): Facts => {
    let f = facts.get(id);
    if (!f) facts.set(id, (f = { lastAt: 0, attempt: 1, inFlight: false, failures: 0, lifecycle: false }));
    return f;
  };
  let maxId = '0-0';
  for (const e of entries) {
    if (compareIds(e.id, maxId) > 0) maxId = e.id;
    if (e.stream.startsWith('tasks:')) {
      const d = decodeTaskEntry(e.fields);
      if (d.ok) {
        const f = get(d.value.taskId);
        f.entry = d.value;
        f.attempt = Math.max(f.attempt, d.value.attempt);
      }
      continue;
    }
    let list = history.get(e.stream);
    if (!list) history.set(e.stream, (list = []));
    list.push(e);
    if (e.stream === 'events') {
      const d = decodeEventEntry(e.id, e.fields);
      if (!d.ok) continue;
      const ev = d.value;
      const f = get(ev.taskId);
      if (!POST_OUTCOME.has(ev.event)) f.lifecycle = true;
      f.lastAt = Math.max(f.lastAt, ev.at);
      const attempt = Number(ev.data.attempt);
      if (Number.isSafeInteger(attempt) && attempt > 0) f.attempt = Math.max(f.attempt, attempt);
      if (ev.event === 'submitted') {
        f.createdAt ??= ev.at;
        const ttl = Number(ev.data.idemTtl);
        if (ev.data.idem && Number.isSafeInteger(ttl) && ttl > 0) f.idem = { key: ev.data.idem, expiresAt: ev.at + ttl * 1000 };
      }
      if (IN_FLIGHT.has(ev.event)) f.inFlight = true;
      if (REQUEUED.has(ev.event)) f.inFlight = false;
      if (ev.event === 'retried' || ev.event === 'reclaimed') f.failures++;
      if (ev.event === 'provider-submitted' && ev.data.provider && ev.data.providerTaskId) {
        f.checkpoint = { provider: ev.data.provider, providerTaskId: ev.data.providerTaskId, at: ev.at };
      }
      if (ev.event === 'dead-lettered' && ev.data.deadLetter) f.deadLetter = ev.data.deadLetter;
    } else if (e.stream === 'results') {
      const d = decodeResultEntry(e.fields);
      const raw = fieldsToObject(e.fields);
      const taskId = d.ok ? d.value.taskId : raw.task;
      if (!taskId) continue;
      const f = get(taskId);
      if (f.result) continue; // first outcome wins
      f.result = {
        id: e.id, fields: raw, completedAt: Number(raw.completedAt) || 0, outcome: raw.outcome ?? 'failed',
        attempt: Number(raw.attempt) || 1, tenant: raw.tenant ?? '', type: raw.type ?? '',
      };
    }
  }
  // The archive is in id order per stream already; sort only a list that is not.
  for (const list of history.values()) {
    if (list.some((e, i) => i > 0 && compareIds((list[i - 1] as ArchivedEntry).id, e.id) > 0)) list.sort((a, b) => compareIds(a.id, b.id));
  }

  const tasks: TaskPlan[] = [];
  const unrecoverable: string[] = [];
  let maxNumericId = 0;
  for (const taskId of [...facts.keys()].sort()) {
    const f = facts.get(taskId) as Facts;
    if (/^\d{1,15}$/.test(taskId)) maxNumericId = Math.max(maxNumericId, Number(taskId));
    const base: Record<string, string> = {};
    if (f.entry) {
      Object.assign(base, {
        task: taskId, type: f.entry.type, tenant: f.entry.tenant, priority: f.entry.priority, deadline: String(f.entry.deadline),
      });
    }
    const createdAt = f.createdAt ?? f.entry?.submittedAt ?? f.result?.completedAt ?? f.lastAt;
    base.createdAt = String(createdAt);
    if (f.checkpoint) {
      Object.assign(base, { provider: f.checkpoint.provider, providerTaskId: f.checkpoint.providerTaskId, providerSubmittedAt: String(f.checkpoint.at) });
    }
    if (f.failures > 0) base.failures = String(f.failures);
    if (f.deadLetter) base.deadLetter = f.deadLetter;
    if (f.result) {
      const r = f.result;
      const { v: _v, task: _t, ...resultFields } = r.fields;
      const projection: Record<string, string> = {
        ...base, type: r.type || base.type || '', tenant: r.tenant || base.tenant || '',
        ...resultFields, status: r.outcome, attempt: String(r.attempt), resultId: r.id,
        updatedAt: String(Math.max(r.completedAt, f.lastAt)), completedAt: String(r.completedAt),
      };
      delete projection.task;
      const tenant = projection.tenant ?? '';
      tasks.push({ taskId, projection, completedAt: r.completedAt, ...(f.idem && tenant ? { idem: { tenant, ...f.idem } } : {}) });
      continue;
    }
    if (!f.entry) {
      // Only post-outcome events left (compaction dropped the finished task): nothing to restore.
      if (f.lifecycle) unrecoverable.push(taskId);
      continue;
    }
    const attempt = f.attempt + (f.inFlight ? 1 : 0);
    const next: TaskEntry = { ...f.entry, attempt, checkpoint: f.checkpoint };
    tasks.push({
      taskId,
      projection: { ...base, status: 'queued', attempt: String(attempt), updatedAt: String(Math.max(f.lastAt, createdAt)) },
      requeue: { priority: f.entry.priority, fields: encodeTaskEntry(next) },
      ...(f.idem ? { idem: { tenant: f.entry.tenant, ...f.idem } } : {}),
    });
  }
  return { history, tasks, unrecoverable, maxNumericId, maxId };
}
