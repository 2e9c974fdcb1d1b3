/**
 * Reading back what happened, for assertions: whole streams from Redis (results,
 * events, dead-letter, lanes), and the simulator's admin API (its task records are the
 * provider's side of the "paid once" story).
 */
import type { Redis } from 'ioredis';
import {
  decodeEventEntry,
  decodeResultEntry,
  fieldsToObject,
  WORKERS_GROUP,
  type Keyspace,
  type ResultEntry,
  type TaskEvent,
} from '@solvestream/contracts';

/** Every entry of a stream, oldest first, read in pages. */
export async function readStream(redis: Redis, key: string, page = 5000): Promise<[string, string[]][]> {
  const out: [string, string[]][] = [];
  let start = '-';
  for (;;) {
    const batch = (await redis.xrange(key, start, '+', 'COUNT', page)) as [string, string[]][];
    out.push(...batch);
    if (batch.length < page) return out;
    start = `(${(batch[batch.length - 1] as [string, string[]])[0]}`;
  }
}

export interface ResultsAudit {
  /** Entries in `results`. */
  entries: number;
  /** Results per task id. */
  perTask: Map<string, ResultEntry[]>;
  /** Entries beyond the first for their task (must be 0). */
  duplicates: number;
  undecodable: number;
}

export async function auditResults(redis: Redis, ks: Keyspace): Promise<ResultsAudit> {
  const raw = await readStream(redis, ks.results);
  const perTask = new Map<string, ResultEntry[]>();
  let undecodable = 0;
  for (const [, fields] of raw) {
    const d = decodeResultEntry(fields);
    if (!d.ok) {
      undecodable++;
      continue;
    }
    const list = perTask.get(d.value.taskId) ?? [];
    list.push(d.value);
    perTask.set(d.value.taskId, list);
  }
  return { entries: raw.length, perTask, duplicates: raw.length - undecodable - perTask.size, undecodable };
}

/** The events stream, decoded, oldest first (undecodable entries skipped). */
export async function readEvents(redis: Redis, ks: Keyspace): Promise<TaskEvent[]> {
  const out: TaskEvent[] = [];
  for (const [id, fields] of await readStream(redis, ks.events)) {
    const d = decodeEventEntry(id, fields);
    if (d.ok) out.push(d.value);
  }
  return out;
}

/** Events grouped by task id, each list oldest first. */
export function eventsByTask(events: readonly TaskEvent[]): Map<string, TaskEvent[]> {
  const m = new Map<string, TaskEvent[]>();
  for (const e of events) {
    const list = m.get(e.taskId) ?? [];
    list.push(e);
    m.set(e.taskId, list);
  }
  return m;
}

export const countEvents = (events: readonly TaskEvent[], name: TaskEvent['event']): number =>
  events.filter((e) => e.event === name).length;

/** A dead-letter entry as flat fields (`kind`, `task`, `reason`, `history`, `entry`, …). */
export type DeadLetter = Record<string, string> & { id: string };

export async function readDeadLetter(redis: Redis, ks: Keyspace): Promise<DeadLetter[]> {
  return (await readStream(redis, ks.deadLetter)).map(([id, f]) => ({ ...fieldsToObject(f), id }));
}

/** Entries still pending in the `workers` group, over every lane. */
export async function pendingTotal(redis: Redis, ks: Keyspace): Promise<number> {
  let n = 0;
  for (const lane of ks.lanes) n += ((await redis.xpending(lane, WORKERS_GROUP)) as [number])[0];
  return n;
}

/** Pending entries per consumer, over every lane. */
export async function pendingByConsumer(redis: Redis, ks: Keyspace): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const lane of ks.lanes) {
    const reply = (await redis.xpending(lane, WORKERS_GROUP)) as [number, string | null, string | null, [string, string][] | null];
    for (const [consumer, count] of reply[3] ?? []) out[consumer] = (out[consumer] ?? 0) + Number(count);
  }
  return out;
}

/** Entries in the lanes plus retries waiting in `delayed`: work not yet finished. */
export async function backlog(redis: Redis, ks: Keyspace): Promise<{ lanes: number; pending: number; delayed: number }> {
  let lanes = 0;
  for (const lane of ks.lanes) lanes += await redis.xlen(lane);
  return { lanes, pending: await pendingTotal(redis, ks), delayed: await redis.zcard(ks.delayed) };
}

/**
 * Waits (up to `timeoutMs`) until the lanes, the PEL and the delayed set are empty, and
 * returns what is left. Redeliveries of finished tasks (acked as duplicates on claim)
 * may still be in flight after every client has its answer.
 */
export async function waitDrained(redis: Redis, ks: Keyspace, timeoutMs = 60_000): Promise<{ lanes: number; pending: number; delayed: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await backlog(redis, ks);
    if ((b.lanes === 0 && b.pending === 0 && b.delayed === 0) || Date.now() > deadline) return b;
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---- the simulator's side -------------------------------------------------------

/** A task record of the simulator (`GET /admin/tasks`), the fields tests use. */
export interface SimTask {
  id: number;
  params: Record<string, unknown>;
  state: string;
  submittedAt: number;
  charged: boolean;
}

export interface SimStats {
  submits: number;
  acceptedSubmits: number;
  polls: number;
  charges: number;
  errors: Record<string, number>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every task the simulator accepted whose params contain `q`. */
export async function simTasks(simUrl: string, q: string): Promise<SimTask[]> {
  const r = await getJson<{ count: number; tasks: SimTask[] }>(`${simUrl}/admin/tasks?q=${encodeURIComponent(q)}&limit=1000000`);
  return r.tasks;
}

export async function simStats(simUrl: string): Promise<SimStats> {
  return (await getJson<{ total: SimStats }>(`${simUrl}/admin/stats`)).total;
}

/** CAPTCHAs (among those whose params contain `q`) that the simulator charged more than once. */
export async function simChargedTwice(simUrl: string, q: string): Promise<number> {
  return (await getJson<{ count: number }>(`${simUrl}/admin/duplicates?charged=true&q=${encodeURIComponent(q)}`)).count;
}

/** Replaces the simulator's faults (`null`: none). */
export async function simFaults(simUrl: string, faults: Record<string, unknown> | null): Promise<void> {
  const res = await fetch(`${simUrl}/admin/faults`, faults === null
    ? { method: 'DELETE' }
    : { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`faults answered ${res.status}: ${await res.text()}`);
}

/** Prints one `key=value …` line for the test log and returns it. */
export function countsLine(label: string, counts: Record<string, string | number>): string {
  const line = `${label}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  console.log(line);
  return line;
}
