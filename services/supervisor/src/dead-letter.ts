/**
 * Dead-letter operations for operators: list, inspect, replay and purge. Used by the
 * supervisor's HTTP admin routes and by the `ss-dlq` CLI.
 *
 * Replay semantics (first result wins, so a task that already gave its client a final
 * `failed` never gets a second outcome):
 * - `exhausted` entries (a task that failed too often) are replayed as a NEW task with
 *   the same type, params, tenant and priority, id `<old id>~<dead-letter id>`. The id is
 *   deterministic, so replaying the same entry twice (or a crash between the submit and
 *   the removal of the entry) never creates two tasks. The old task gets a `replayed`
 *   event naming the new one.
 * - `poison` entries that decode today (e.g. after a release that understands them) go
 *   back to their lane under their own task id when that task has no outcome yet;
 *   otherwise as a new task like above. Entries that still do not decode are refused
 *   with the reason.
 */
import type { Redis } from 'ioredis';
import {
  decodeTaskEntry,
  DEFAULT_DEADLINE_SECONDS,
  encodeTaskEntry,
  fieldsToObject,
  isTerminal,
  readTask,
  TransitionError,
  type Keyspace,
  type TaskEntry,
  type Transitions,
} from '@solvestream/contracts';

export interface DeadLetterItem {
  id: string;
  kind: string;
  taskId?: string;
  reason: string;
  errorCode?: string;
  failures?: number;
  at: number;
  stream: string;
}

export interface DeadLetterDetail extends DeadLetterItem {
  entryId: string;
  history?: unknown[];
  /** The entry's fields as they were when it was dead-lettered. */
  fields: string[];
}

export interface DeadLetterFilter {
  kind?: string;
  taskId?: string;
  /** Substring of the reason. */
  reason?: string;
  errorCode?: string;
  /** Epoch ms bounds on when it was dead-lettered. */
  since?: number;
  until?: number;
}

export interface DeadLetterContext {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  clock?: () => number;
}

export class NotReplayableError extends Error {
  readonly code = 'NOT_REPLAYABLE';
}

function toDetail(id: string, list: string[]): DeadLetterDetail {
  const f = fieldsToObject(list);
  let fields: string[] = [];
  try {
    const raw = JSON.parse(f.raw ?? '[]') as unknown;
    if (Array.isArray(raw)) fields = raw.map(String);
  } catch {
    fields = [];
  }
  let history: unknown[] | undefined;
  try {
    history = f.history ? (JSON.parse(f.history) as unknown[]) : undefined;
  } catch {
    history = undefined;
  }
  return {
    id,
    kind: f.kind ?? 'unknown',
    taskId: f.task || undefined,
    reason: f.reason ?? '',
    errorCode: f.errorCode || undefined,
    failures: f.failures ? Number(f.failures) : undefined,
    at: Number(f.at ?? 0),
    stream: f.stream ?? '',
    entryId: f.entry ?? '',
    history,
    fields,
  };
}

const summary = ({ fields: _f, history: _h, entryId: _e, ...item }: DeadLetterDetail): DeadLetterItem => item;

function matches(d: DeadLetterItem, f: DeadLetterFilter): boolean {
  return (!f.kind || d.kind === f.kind)
    && (!f.taskId || d.taskId === f.taskId)
    && (!f.reason || d.reason.includes(f.reason))
    && (!f.errorCode || d.errorCode === f.errorCode)
    && (f.since === undefined || d.at >= f.since)
    && (f.until === undefined || d.at <= f.until);
}

/** Pages through the dead-letter stream, oldest first, `limit` matches per page. */
export async function listDeadLetters(redis: Redis, keys: Keyspace, o: { limit?: number; after?: string; filter?: DeadLetterFilter } = {}): Promise<{ items: DeadLetterItem[]; next?: string }> {
  const limit = Math.min(Math.max(o.limit ?? 100, 1), 1000);
  const items: DeadLetterItem[] = [];
  let start = o.after ? `(${o.after}` : '-';
  for (;;) {
    const page = (await redis.xrange(keys.deadLetter, start, '+', 'COUNT', 500)) as [string, string[]][];
    for (const [id, list] of page) {
      const d = summary(toDetail(id, list));
      if (matches(d, o.filter ?? {})) items.push(d);
      if (items.length === limit) return { items, next: id };
    }
    if (page.length < 500) return { items };
    start = `(${page[page.length - 1]![0]}`;
  }
}

export async function getDeadLetter(redis: Redis, keys: Keyspace, id: string): Promise<DeadLetterDetail | undefined> {
  const page = (await redis.xrange(keys.deadLetter, id, id)) as [string, string[]][];
  const hit = page[0];
  return hit ? toDetail(hit[0], hit[1]) : undefined;
}

export interface ReplayResult {
  deadLetterId: string;
  taskId: string;
  mode: 'requeued' | 'new-task';
}

/** Replays one dead-letter entry (see the module comment) and removes it. */
export async function replayDeadLetter(ctx: DeadLetterContext, id: string): Promise<ReplayResult> {
  const { redis, keys, transitions } = ctx;
  const now = (ctx.clock ?? Date.now)();
  const d = await getDeadLetter(redis, keys, id);
  if (!d) throw new NotReplayableError(`dead-letter entry ${id} does not exist`);
  const decoded = decodeTaskEntry(d.fields);
  if (!decoded.ok) throw new NotReplayableError(`entry ${id} still does not decode: ${decoded.reason}`);
  const old = decoded.value;
  const view = await readTask(redis, keys, old.taskId);

  let result: ReplayResult;
  if (d.kind === 'poison' && view && !isTerminal(view.status)) {
    await redis.xadd(keys.lane(old.priority), '*', ...encodeTaskEntry(old));
    result = { deadLetterId: id, taskId: old.taskId, mode: 'requeued' };
  } else {
    const taskId = d.kind === 'poison' && !view ? old.taskId : `${old.taskId}~${id}`;
    const fresh: TaskEntry = {
      ...old, taskId, attempt: 1, checkpoint: undefined, submittedAt: now,
      deadline: now + DEFAULT_DEADLINE_SECONDS[old.type] * 1000,
    };
    try {
      await transitions.submit({ entry: fresh, now });
    } catch (err) {
      // Already replayed (deterministic id): fine, just finish removing the entry.
      if (!(err instanceof TransitionError && err.code === 'TASK_EXISTS')) throw err;
    }
    result = { deadLetterId: id, taskId, mode: 'new-task' };
  }
  await redis.xadd(keys.events, '*', 'v', '1', 'task', old.taskId, 'event', 'replayed', 'at', String(now), 'deadLetter', id, 'newTask', result.taskId);
  await redis.xdel(keys.deadLetter, id);
  return result;
}

/** Replays every entry matching `filter` (all when empty), up to `limit`. Failures are reported, not thrown. */
export async function replayMatching(ctx: DeadLetterContext, filter: DeadLetterFilter, limit = 1000): Promise<{ replayed: ReplayResult[]; refused: { id: string; reason: string }[] }> {
  const { items } = await listDeadLetters(ctx.redis, ctx.keys, { filter, limit });
  const replayed: ReplayResult[] = [];
  const refused: { id: string; reason: string }[] = [];
  for (const item of items) {
    try {
      replayed.push(await replayDeadLetter(ctx, item.id));
    } catch (err) {
      refused.push({ id: item.id, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { replayed, refused };
}

/** Deletes the given entries, or every entry matching `filter` (all when empty); returns how many. */
export async function purgeDeadLetters(redis: Redis, keys: Keyspace, filter: DeadLetterFilter, ids?: string[]): Promise<number> {
  if (ids) return ids.length ? Number(await redis.xdel(keys.deadLetter, ...ids)) : 0;
  let total = 0;
  let after: string | undefined;
  for (;;) {
    const page = await listDeadLetters(redis, keys, { filter, limit: 1000, after });
    if (page.items.length) total += Number(await redis.xdel(keys.deadLetter, ...page.items.map((i) => i.id)));
    if (!page.next) return total;
    after = page.next;
  }
}
