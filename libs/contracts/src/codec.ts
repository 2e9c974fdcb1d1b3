/**
 * Encode/decode of stream entries. Entries are flat field/value lists (what XADD takes
 * and XREADGROUP returns). Decoders never throw: anything malformed comes back as
 * `{ ok: false, reason }` so a consumer can dead-letter it instead of crashing.
 *
 * Schema version: every entry carries `v`. A decoder accepts the versions it knows and
 * reports the rest as undecodable, so two releases can run side by side.
 */
import { parseTaskSpec } from './validate';
import { ValidationError } from './errors';
import { PRIORITIES, type Priority } from './keys';
import { isTaskType, type Solution, type TaskParams, type TaskType } from './task-types';

export const ENTRY_VERSION = '1';

/** Trace-context fields carried next to the payload (W3C trace context). */
export const TRACE_FIELDS = ['traceparent', 'tracestate'] as const;
export type TraceCarrier = Partial<Record<(typeof TRACE_FIELDS)[number], string>>;

/** Where a task stands at its provider: set once the provider accepted it. */
export interface Checkpoint {
  provider: string;
  providerTaskId: string;
  /** Epoch ms when the provider accepted the task. */
  at: number;
}

/** One delivery attempt of a task, as it sits in `tasks:<priority>`. */
export interface TaskEntry {
  taskId: string;
  type: TaskType;
  params: TaskParams;
  tenant: string;
  priority: Priority;
  attempt: number;
  submittedAt: number;
  /** Epoch ms after which the task fails as unsolvable. */
  deadline: number;
  checkpoint?: Checkpoint;
  trace: TraceCarrier;
}

/** `cancelled` is published only by `cancelTask` (a client's cancel), never by a worker. */
export type Outcome = 'solved' | 'failed' | 'cancelled';

/** The terminal outcome of a task, as it sits in `results` (and in the projection). */
export interface ResultEntry {
  taskId: string;
  outcome: Outcome;
  tenant: string;
  type: TaskType;
  attempt: number;
  completedAt: number;
  solution?: Solution;
  errorCode?: string;
  errorMessage?: string;
  provider?: string;
  providerTaskId?: string;
  trace: TraceCarrier;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export type Fields = Record<string, string>;

/** XREADGROUP's `[k1, v1, k2, v2, …]` → object. Later duplicates win. */
export function fieldsToObject(list: readonly string[]): Fields {
  const out: Fields = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string;
  return out;
}

/** Object → XADD's flat list, skipping undefined values. */
export function objectToFields(obj: Record<string, string | number | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out.push(k, String(v));
  return out;
}

export function encodeTaskEntry(e: TaskEntry): string[] {
  return objectToFields({
    v: ENTRY_VERSION,
    task: e.taskId,
    type: e.type,
    tenant: e.tenant,
    priority: e.priority,
    attempt: e.attempt,
    submittedAt: e.submittedAt,
    deadline: e.deadline,
    params: JSON.stringify(e.params),
    checkpoint: e.checkpoint ? JSON.stringify(e.checkpoint) : undefined,
    traceparent: e.trace.traceparent,
    tracestate: e.trace.tracestate,
  });
}

function int(f: Fields, name: string, min = 0): number {
  const raw = f[name];
  if (raw === undefined) throw new ValidationError(name, 'is missing');
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new ValidationError(name, `is not an integer >= ${min}`);
  return n;
}

function str(f: Fields, name: string): string {
  const raw = f[name];
  if (raw === undefined || raw === '') throw new ValidationError(name, 'is missing');
  return raw;
}

function json(f: Fields, name: string): unknown {
  try {
    return JSON.parse(str(f, name));
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(name, 'is not valid JSON');
  }
}

function trace(f: Fields): TraceCarrier {
  const t: TraceCarrier = {};
  if (f.traceparent) t.traceparent = f.traceparent;
  if (f.tracestate) t.tracestate = f.tracestate;
  return t;
}

function decodeCheckpoint(f: Fields): Checkpoint | undefined {
  if (f.checkpoint === undefined || f.checkpoint === '') return undefined;
  const c = json(f, 'checkpoint') as Partial<Checkpoint> | null;
  if (!c || typeof c.provider !== 'string' || typeof c.providerTaskId !== 'string' || typeof c.at !== 'number') {
    throw new ValidationError('checkpoint', 'must be {provider, providerTaskId, at}');
  }
  return { provider: c.provider, providerTaskId: c.providerTaskId, at: c.at };
}

function attempt<T>(fn: () => T): Decoded<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

export function decodeTaskEntry(list: readonly string[]): Decoded<TaskEntry> {
  return attempt(() => {
    const f = fieldsToObject(list);
    if (f.v !== ENTRY_VERSION) throw new ValidationError('v', `unsupported entry version ${JSON.stringify(f.v ?? null)}`);
    const priority = str(f, 'priority');
    if (!(PRIORITIES as readonly string[]).includes(priority)) throw new ValidationError('priority', `unknown priority ${JSON.stringify(priority)}`);
    const spec = parseTaskSpec(f.type, json(f, 'params'));
    return {
      taskId: str(f, 'task'),
      type: spec.type,
      params: spec.params,
      tenant: str(f, 'tenant'),
      priority: priority as Priority,
      attempt: int(f, 'attempt', 1),
      submittedAt: int(f, 'submittedAt'),
      deadline: int(f, 'deadline'),
      checkpoint: decodeCheckpoint(f),
      trace: trace(f),
    };
  });
}

export function encodeResultEntry(r: ResultEntry): string[] {
  return objectToFields({
    v: ENTRY_VERSION,
    task: r.taskId,
    outcome: r.outcome,
    tenant: r.tenant,
    type: r.type,
    attempt: r.attempt,
    completedAt: r.completedAt,
    solution: r.solution ? JSON.stringify(r.solution) : undefined,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    provider: r.provider,
    providerTaskId: r.providerTaskId,
    traceparent: r.trace.traceparent,
    tracestate: r.trace.tracestate,
  });
}

export function decodeResultEntry(list: readonly string[]): Decoded<ResultEntry> {
  return attempt(() => {
    const f = fieldsToObject(list);
    if (f.v !== ENTRY_VERSION) throw new ValidationError('v', `unsupported entry version ${JSON.stringify(f.v ?? null)}`);
    const outcome = str(f, 'outcome');
    if (outcome !== 'solved' && outcome !== 'failed' && outcome !== 'cancelled') throw new ValidationError('outcome', `unknown outcome ${JSON.stringify(outcome)}`);
    const type = str(f, 'type');
    if (!isTaskType(type)) throw new ValidationError('type', `unknown task type ${JSON.stringify(type)}`);
    return {
      taskId: str(f, 'task'),
      outcome,
      tenant: str(f, 'tenant'),
      type,
      attempt: int(f, 'attempt', 1),
      completedAt: int(f, 'completedAt'),
      solution: f.solution ? (json(f, 'solution') as Solution) : undefined,
      errorCode: f.errorCode || undefined,
      errorMessage: f.errorMessage || undefined,
      provider: f.provider || undefined,
      providerTaskId: f.providerTaskId || undefined,
      trace: trace(f),
    };
  });
}

/** Lifecycle events appended to `events` by the transitions (DESIGN.md, "events"). */
export const TASK_EVENTS = [
  'submitted',
  'claimed',
  'provider-submitted',
  'solved',
  'failed',
  'duplicate',
  'retried',
  'promoted',
  'reclaimed',
  'handed-back',
  'dead-lettered',
  'replayed',
  'cancelled',
  // client API (producer): a passed deadline noticed outside a worker, client reports, webhook deliveries
  'expired',
  'reported',
  'webhook-delivered',
  'webhook-failed',
  'webhook-abandoned',
] as const;
export type TaskEventName = (typeof TASK_EVENTS)[number];

export interface TaskEvent {
  /** Stream entry id of the event. */
  id: string;
  taskId: string;
  event: TaskEventName;
  at: number;
  /** Event-specific details (attempt, consumer, provider ids, error code, …). */
  data: Record<string, string>;
}

export function decodeEventEntry(id: string, list: readonly string[]): Decoded<TaskEvent> {
  return attempt(() => {
    const { v, task, event, at, ...data } = fieldsToObject(list);
    if (v !== ENTRY_VERSION) throw new ValidationError('v', `unsupported entry version ${JSON.stringify(v ?? null)}`);
    if (!task) throw new ValidationError('task', 'is missing');
    if (!(TASK_EVENTS as readonly string[]).includes(event ?? '')) throw new ValidationError('event', `unknown event ${JSON.stringify(event)}`);
    const atMs = Number(at);
    if (!Number.isSafeInteger(atMs)) throw new ValidationError('at', 'is not an integer');
    return { id, taskId: task, event: event as TaskEventName, at: atMs, data };
  });
}
