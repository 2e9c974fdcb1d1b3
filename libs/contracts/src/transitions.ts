/**
 * Typed access to the Lua transitions in `../lua`. Each state change of a task is ONE
 * script call: it changes the projection, appends its event and acks in the same
 * round trip, so the log and the state cannot drift and no crash can split them.
 *
 * Scripts run through EVALSHA keyed by the SHA-1 of their text (ioredis falls back to
 * EVAL after NOSCRIPT, e.g. after a Redis restart). Two releases running side by side
 * during a rolling update therefore never run each other's Lua.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { TransitionError } from './errors';
import { PRIORITIES, WORKERS_GROUP, type Keyspace, type Priority } from './keys';
import type { Mode } from './mode';
import { encodeResultEntry, encodeTaskEntry, objectToFields, type ResultEntry, type TaskEntry } from './codec';

/** Negative script replies, mapped to typed errors in this one place. */
export const ScriptErrorCode = {
  TASK_EXISTS: -1,
  NO_TASK: -2,
  NOT_PENDING: -3,
  NOT_OWNER: -4,
  WRONG_LANE: -5,
  STALE: -6,
  NOT_DUE: -10,
  /** A batched script's task argument is not what the script expects; that task only (submitTask, completeTask). */
  BAD_ARGUMENT: -20,
} as const;

/** A batched script's BAD_ARGUMENT reply for one task: `{-20, why}`. */
const badArgument = (script: ScriptName, taskId: string | undefined, why: unknown): TransitionError =>
  new TransitionError('BAD_ARGUMENT', `${script} refused task ${taskId}: ${String(why)}`);

const SCRIPTS = {
  submitTask: null, // variable (batch): 3 keys + every lane + 4 per task
  claimTask: null, // variable (batch): numkeys is the first argument
  checkpointTask: null, // variable (batch)
  completeTask: null, // variable (batch)
  deadLetterEntry: 3,
  requeueTask: 8,
  promoteTask: 6,
  // client API (producer)
  cancelTask: 6 + PRIORITIES.length, // + every lane
  expireTask: 5 + PRIORITIES.length, // + every lane
  reportTask: 3,
  recordDelivery: 2,
  // supervisor
  removeConsumer: 1,
  // producers' results dispatcher
  dispatchResults: null, // variable: 3 keys + 1 per result + 1 per tenant
} as const;
type ScriptName = keyof typeof SCRIPTS;
const commandName = (s: ScriptName): string => `ss_${s}`;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

function loadScripts(redis: Redis): void {
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS)) {
    const cmd = commandName(name as ScriptName);
    if (typeof (redis as unknown as Record<string, unknown>)[cmd] === 'function') continue;
    const dir = join(__dirname, '..', '..', 'lua');
    const lua = readFileSync(join(dir, '_common.lua'), 'utf8') + '\n' + readFileSync(join(dir, `${name}.lua`), 'utf8');
    redis.defineCommand(cmd, { lua, numberOfKeys: numberOfKeys ?? undefined });
  }
}

export interface TransitionOptions {
  /** Approximate MAXLEN for `events`; 0 = never trim. Default 1,000,000. */
  eventsMaxLen?: number;
  /** Approximate MAXLEN for `results`; 0 = never trim. Default 1,000,000. */
  resultsMaxLen?: number;
  /** Seconds a task's projection lives after its outcome; 0 = forever. Default 86,400. */
  resultTtlSeconds?: number;
  /** Seconds an idempotency key maps to its task. Default 86,400. */
  idempotencyTtlSeconds?: number;
  /** Consumer group of the task lanes. Default `workers`. */
  group?: string;
}

export type SubmitResult = { created: true; taskId: string; entryId: string } | { created: false; taskId: string };
export type ClaimResult =
  | { proceed: true; checkpoint?: { provider: string; providerTaskId: string } }
  | { proceed: false; status: string };
export type CompleteResult = { published: true; resultId: string } | { published: false; status: string };
export type CheckpointResult = 'recorded' | 'terminal' | 'stale';
export type ReassertResult = 'recorded' | 'present' | 'terminal' | 'missing';
export interface CheckpointInput { taskId: string; provider: string; providerTaskId: string; attempt: number; consumer: string; now: number }
export type RequeueMode = 'reclaim' | 'handback' | 'retry';
export type RequeueResult =
  | { kind: 'requeued'; entryId: string }
  | { kind: 'delayed' }
  | { kind: 'dead-lettered'; deadLetterId: string }
  | { kind: 'terminal'; status: string }
  | { kind: 'not-pending' }
  | { kind: 'not-owner' };
export type PromoteResult = 'promoted' | 'not-due' | 'dropped' | 'dead-lettered';
/** cancel / expire: `done` this call ended the task; `terminal` it already had an outcome. */
export type EndResult =
  | { kind: 'done'; resultId: string }
  | { kind: 'terminal'; status: string }
  | { kind: 'no-task' }
  | { kind: 'not-due' };
export type ReportVerdict = 'good' | 'bad';
export type ReportResult =
  | { kind: 'recorded'; reportId: string }
  | { kind: 'refused'; reason: 'not-solved' | 'too-late' | 'duplicate' }
  | { kind: 'no-task' };
export type DeliveryEvent = 'webhook-delivered' | 'webhook-failed' | 'webhook-abandoned';

export interface RequeueInput {
  /** The entry as it was delivered (its attempt is incremented for the next one). */
  entry: TaskEntry;
  entryId: string;
  /** Consumer that holds the pending entry (the worker, or the supervisor after XAUTOCLAIM). */
  consumer: string;
  mode: RequeueMode;
  reason: string;
  /** Failures (reclaims + retries) after which the task is dead-lettered. */
  maxFailures: number;
  /**
   * For mode 'retry': when the retry becomes due, epoch ms. For mode 'reclaim': hold a
   * task that was claimed and has no provider checkpoint in the delayed set until then
   * (its stalled worker may have paid for a submit it has not checkpointed yet; see
   * requeueTask.lua). Omitted, or <= now: requeued at once.
   */
  dueAt?: number;
  /** Error code of the failed result if the task is dead-lettered. */
  errorCode?: string;
  now: number;
}

/** Why admission refused a submit (submitTask.lua's codes -11..-14). */
export type AdmitRefusal =
  | { admitted: false; reason: 'mode'; mode: Mode }
  | { admitted: false; reason: 'queue-full'; depth: number }
  | { admitted: false; reason: 'tenant-full'; open: number }
  | { admitted: false; reason: 'rate-limited'; retryAfterMs: number };

/** submitTask.lua's refusal codes, mapped in this one place; undefined for any other reply. */
function admissionRefusal(reply: readonly unknown[]): AdmitRefusal | undefined {
  switch (reply[0]) {
    case -11: return { admitted: false, reason: 'mode', mode: String(reply[1]) as Mode };
    case -12: return { admitted: false, reason: 'queue-full', depth: Number(reply[1]) };
    case -13: return { admitted: false, reason: 'tenant-full', open: Number(reply[1]) };
    case -14: return { admitted: false, reason: 'rate-limited', retryAfterMs: Number(reply[1]) };
    default: return undefined;
  }
}

/** Admission in the submit call itself (the rules are in submitTask.lua's header). */
export interface SubmitAdmission {
  /** The task's deadline + grace, epoch ms: after it the task no longer counts as open. */
  openUntil: number;
  /** Tokens per second; 0 = unlimited. */
  ratePerSecond: number;
  /** Bucket size; at least 1. */
  burst: number;
  /** The tenant's cap on unfinished tasks; 0 = unlimited. */
  maxOpen: number;
  /** Cap on every lane's length + delayed retries; 0 = unlimited. */
  maxQueueDepth: number;
}

export interface SubmitInput {
  entry: TaskEntry;
  /** Present when the client sent an idempotency key. */
  idempotencyKey?: string;
  /** Extra projection fields set at submit (e.g. `callbackUrl`); never the ones submit owns. */
  projection?: Record<string, string>;
  now: number;
}

/** A batch of results for `dispatchResults`. */
export interface DispatchInput {
  /** The producers' consumer group on `results`. */
  group: string;
  /** Epoch ms: when the scheduled webhooks are due. */
  now: number;
  /** The decodable results of the batch, each with its entry id. */
  results: readonly { entryId: string; taskId: string; outcome: string; tenant: string }[];
  /** The batch's undecodable entries: acked, nothing else. */
  undecodable: readonly string[];
}

/** One task of `submitBatch`: with `admission`, the producer's path (`admitAndSubmit`). */
export type SubmittedInput = SubmitInput & { admission?: SubmitAdmission };

/**
 * `s` with every lone UTF-16 surrogate replaced by U+FFFD. The batched scripts take a
 * task as one JSON argument, and Redis's cjson refuses the `\udXXX` escape
 * JSON.stringify writes for a lone surrogate; ioredis wrote such a string as U+FFFD
 * when it went as its own argument, so this keeps what is stored the same. (A provider's
 * error text can carry one; a client's params cannot reach here raw: they travel
 * stringified inside the entry.)
 */
const wellFormed = (s: string): string => (s.isWellFormed() ? s : s.toWellFormed());

export interface ClaimInput {
  entry: TaskEntry;
  entryId: string;
  consumer: string;
  now: number;
}

export interface ClaimBatchInput {
  consumer: string;
  now: number;
  items: readonly { entry: TaskEntry; entryId: string }[];
}

/**
 * Most tasks per batched script call (claimTask, checkpointTask, completeTask): a call
 * runs alone in Redis, so a bigger batch would hold up every other client for longer.
 */
const BATCH_CHUNK = 200;
/** Most bytes of arguments per batched call, as the caller's weight function counts them. */
const BATCH_CHUNK_BYTES = 1 << 20;

export interface CompleteInput {
  result: ResultEntry;
  priority: Priority;
  /** Lane entry to ack; omit when there is none (e.g. a deadline sweep). */
  entryId?: string;
  consumer: string;
  now: number;
}

/** The transitions of one partition, bound to a Redis client and a keyspace. */
export class Transitions {
  private readonly eventsMaxLen: number;
  private readonly resultsMaxLen: number;
  private readonly resultTtl: number;
  private readonly idemTtl: number;
  private readonly group: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    options: TransitionOptions = {},
  ) {
    this.eventsMaxLen = options.eventsMaxLen ?? 1_000_000;
    this.resultsMaxLen = options.resultsMaxLen ?? 1_000_000;
    this.resultTtl = options.resultTtlSeconds ?? 86_400;
    this.idemTtl = options.idempotencyTtlSeconds ?? 86_400;
    this.group = options.group ?? WORKERS_GROUP;
    loadScripts(redis);
  }

  private fn(name: ScriptName): ScriptFn {
    const f = (this.redis as unknown as Record<string, ScriptFn>)[commandName(name)];
    if (!f) throw new Error(`script ${name} not loaded`);
    return f.bind(this.redis);
  }

  /** The one answer of a batched transition called with one input: its Error is thrown. */
  private static async single<O>(answers: Promise<(O | Error)[]>): Promise<O> {
    const [r] = await answers;
    if (r instanceof Error) throw r;
    if (r === undefined) throw new TransitionError('UNEXPECTED', 'a batched script answered nothing');
    return r;
  }

  /** Accepts a task without admission checks (tests, restores, tools). See submitTask.lua. */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    const r = await Transitions.single(this.submitBatch([input]));
    if ('admitted' in r) throw new TransitionError('UNEXPECTED', `submitTask refused a task it was not asked to admit (${r.reason})`);
    return r;
  }

  /**
   * Admission and submit in ONE script call (the producer's path): an idempotent replay
   * or an existing task comes back first and consumes nothing; a refusal writes nothing;
   * an admitted task is recorded as open for its tenant and accepted. Before, admission
   * was its own script call: one more round trip and Lua call per task.
   */
  admitAndSubmit(input: SubmitInput & { admission: SubmitAdmission }): Promise<SubmitResult | AdmitRefusal> {
    return Transitions.single(this.submitBatch([input]));
  }

  /**
   * Submits many tasks in one script call per chunk (submitTask.lua): one answer per
   * input, in order, as `submit` / `admitAndSubmit` give it (admission applies to the
   * inputs that carry `admission`); a task whose projection exists answers a
   * TASK_EXISTS TransitionError. Chunks close at 200 tasks or 1 MiB of arguments, so a
   * call of large image tasks does not hold Redis for long.
   */
  submitBatch(inputs: readonly SubmittedInput[]): Promise<(SubmitResult | AdmitRefusal | Error)[]> {
    const k = this.keys;
    // One argument per task, strings only (see the script's header); chunks close on its real size.
    const json = inputs.map(({ entry, idempotencyKey, projection, now, admission: a }) => JSON.stringify([
      entry.taskId, String(now), idempotencyKey === undefined ? '0' : String(this.idemTtl), idempotencyKey ?? '',
      String(PRIORITIES.indexOf(entry.priority) + 1), // 0 for an unknown priority: the script refuses that task
      a ? '1' : '0', String(a?.ratePerSecond ?? 0), String(Math.max(1, a?.burst ?? 1)), String(a?.maxOpen ?? 0),
      String(a?.maxQueueDepth ?? 0), String(a?.openUntil ?? 0),
      projection ? objectToFields(projection).map(wellFormed) : [],
      encodeTaskEntry(entry).map(wellFormed),
    ]));
    return this.inChunks(inputs, (chunk, start) => {
      const keys: string[] = [k.events, k.mode, k.delayed, ...k.lanes];
      const args: (string | number)[] = [this.eventsMaxLen, k.lanes.length];
      chunk.forEach(({ entry, idempotencyKey }, j) => {
        keys.push(
          k.task(entry.taskId),
          k.idem(entry.tenant, idempotencyKey ?? '-'),
          k.rate(entry.tenant),
          k.openTasks(entry.tenant),
        );
        args.push(json[start + j] as string);
      });
      return this.fn('submitTask')(keys.length, ...keys, ...args);
    }, (reply, n) => {
      const r = reply as [number, string?];
      const taskId = inputs[n]?.entry.taskId;
      if (r[0] === ScriptErrorCode.TASK_EXISTS) return new TransitionError('TASK_EXISTS', `task ${taskId} already exists`);
      if (r[0] === 0) return { created: false, taskId: String(r[1]) };
      if (r[0] === 1) return { created: true, taskId: String(taskId), entryId: String(r[1]) };
      if (r[0] === ScriptErrorCode.BAD_ARGUMENT) return badArgument('submitTask', taskId, r[1]);
      return admissionRefusal(r) ?? new TransitionError('UNEXPECTED', `submitTask answered ${JSON.stringify(r)}`);
    }, (_, i) => (json[i] as string).length + 256);
  }

  /**
   * Claims a batch of entries read by one consumer in ONE script call (claimTask.lua):
   * one result per input, in order. Entries past 200 go out in further calls (sent
   * together), so one call never blocks Redis for long. A call that fails gives its Error
   * to each of its own entries: the claims of the other calls are still reported, so the
   * caller starts them instead of letting their leases run out. (A script error part-way
   * through one call leaves its earlier claims written but reported as failed: those
   * entries stay pending and are reclaimed after the lease.)
   */
  async claimBatch({ consumer, now, items }: ClaimBatchInput): Promise<(ClaimResult | Error)[]> {
    const k = this.keys;
    return this.inChunks(items, (chunk) => {
      const keys: string[] = [k.events];
      const args: (string | number)[] = [this.group, consumer, now, this.eventsMaxLen];
      for (const { entry, entryId } of chunk) {
        keys.push(k.task(entry.taskId), k.lane(entry.priority));
        args.push(entry.taskId, entryId, entry.attempt, entry.type, entry.tenant, entry.priority, entry.deadline);
      }
      return this.fn('claimTask')(keys.length, ...keys, ...args);
    }, Transitions.claimReply);
  }

  /**
   * Runs a batched script over `items`, BATCH_CHUNK per call (and, given `weight`, at
   * most BATCH_CHUNK_BYTES of it, or one item; `call` gets its chunk's first index in
   * `items`), the calls sent together
   * (one write on an auto-pipelined connection); one answer per item, in order; `map`
   * gets each reply with its item's index in `items`. A call that fails gives its Error
   * to each of its own items only: the other calls' answers stand, so the caller acts on
   * them. (A script error part-way through one call leaves its earlier items written but
   * reported as failed; every batched transition but submit is safe to repeat: a repeat
   * finds the task terminal, stale or already recorded. A submit reported failed may
   * exist, as after a lost reply: see submit.ts in the producer.)
   */
  private async inChunks<I, O>(
    items: readonly I[],
    call: (chunk: readonly I[], start: number) => Promise<unknown>,
    map: (reply: unknown, index: number) => O | Error,
    weight?: (item: I, index: number) => number,
  ): Promise<(O | Error)[]> {
    const calls: Promise<(O | Error)[]>[] = [];
    for (let i = 0, end = 0; i < items.length; i = end) {
      end = Math.min(items.length, i + BATCH_CHUNK);
      if (weight) {
        let bytes = 0;
        for (let j = i; j < end; j++) {
          bytes += weight(items[j] as I, j);
          if (bytes > BATCH_CHUNK_BYTES && j > i) { end = j; break; }
        }
      }
      const chunk = items.slice(i, end);
      // Through a promise, so that a call that throws at once (building its arguments)
      // fails its own items like a call Redis refused.
      calls.push(Promise.resolve().then(() => call(chunk, i)).then(
        (replies) => {
          if (!Array.isArray(replies) || replies.length !== chunk.length) {
            const e = new TransitionError('UNEXPECTED', `a batched script answered ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${chunk.length} items`);
            return chunk.map(() => e);
          }
          return replies.map((r, j) => map(r, i + j));
        },
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          return chunk.map(() => e);
        },
      ));
    }
    return (await Promise.all(calls)).flat();
  }

  static claimReply(reply: unknown): ClaimResult {
    const r = reply as [number, string, string?];
    if (r[0] === ScriptErrorCode.NOT_PENDING) return { proceed: false, status: 'not-pending' };
    if (r[0] === 1) {
      return r[1] && r[2] ? { proceed: true, checkpoint: { provider: r[1], providerTaskId: r[2] } } : { proceed: true };
    }
    return { proceed: false, status: String(r[1]) };
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    return Transitions.single(this.claimBatch({ consumer: input.consumer, now: input.now, items: [input] }));
  }

  /**
   * Records the provider's task id. `terminal`: the task already has its outcome;
   * `stale`: a newer delivery exists (this caller lost its lease) and must stop.
   */
  async checkpoint(input: CheckpointInput): Promise<CheckpointResult> {
    return Transitions.single(this.checkpointBatch([input]));
  }

  /**
   * Records many provider task ids in one script call per BATCH_CHUNK (checkpointTask.lua):
   * one answer per input, in order, as `checkpoint` gives it, or the Error of its call
   * (a task without projection answers a NO_TASK TransitionError).
   */
  checkpointBatch(inputs: readonly CheckpointInput[]): Promise<(CheckpointResult | Error)[]> {
    return this.runCheckpoints(inputs, false, (reply, n) => {
      if (reply === ScriptErrorCode.NO_TASK) return new TransitionError('NO_TASK', `task ${inputs[n]?.taskId} has no projection`);
      if (reply === ScriptErrorCode.STALE) return 'stale';
      if (reply === 1) return 'recorded';
      if (reply === 0) return 'terminal';
      return new TransitionError('UNEXPECTED', `checkpointTask answered ${String(reply)}`);
    });
  }

  /**
   * Writes checkpoints a worker already holds once more (reassert mode of
   * checkpointTask.lua): each is written only where its task names no provider id yet.
   * Per input, in order: `recorded` (written), `present` (the task already names a
   * provider id), `terminal`, `missing` (no projection: not restored yet), or the Error
   * of its call.
   */
  reassertCheckpoints(inputs: readonly CheckpointInput[]): Promise<(ReassertResult | Error)[]> {
    return this.runCheckpoints(inputs, true, (reply) => {
      switch (reply) {
        case 1: return 'recorded';
        case 2: return 'present';
        case 0: return 'terminal';
        case ScriptErrorCode.NO_TASK: return 'missing';
        default: return new TransitionError('INTERNAL', `checkpointTask (reassert) answered ${String(reply)}`);
      }
    });
  }

  private runCheckpoints<O>(inputs: readonly CheckpointInput[], reassert: boolean, map: (reply: unknown, index: number) => O | Error): Promise<(O | Error)[]> {
    const k = this.keys;
    return this.inChunks(inputs, (chunk) => {
      const keys: string[] = [k.events];
      const args: (string | number)[] = [this.eventsMaxLen, reassert ? '1' : '0'];
      for (const i of chunk) {
        keys.push(k.task(i.taskId));
        args.push(i.taskId, i.now, i.provider, i.providerTaskId, i.attempt, i.consumer);
      }
      return this.fn('checkpointTask')(keys.length, ...keys, ...args);
    }, map);
  }

  /** Next delivery of a task (reclaim, hand-back, delayed retry) or dead-letter; see requeueTask.lua. */
  async requeue(i: RequeueInput): Promise<RequeueResult> {
    const k = this.keys;
    const next = encodeTaskEntry({ ...i.entry, attempt: i.entry.attempt + 1, checkpoint: undefined });
    const reply = (await this.fn('requeueTask')(
      k.lane(i.entry.priority), k.task(i.entry.taskId), k.events, k.results, k.deadLetter, k.delayed, k.delayedEntries,
      k.openTasks(i.entry.tenant),
      i.entry.taskId, i.entryId, this.group, i.consumer, i.now, i.mode, i.reason.slice(0, 500), i.maxFailures,
      i.dueAt ?? i.now, this.eventsMaxLen, this.resultsMaxLen, this.resultTtl, i.errorCode ?? 'MAX_DELIVERIES_EXCEEDED',
      ...next,
    )) as [number, string?];
    switch (reply[0]) {
      case 1: return reply[1] === 'delayed' ? { kind: 'delayed' } : { kind: 'requeued', entryId: String(reply[1]) };
      case 2: return { kind: 'dead-lettered', deadLetterId: String(reply[1]) };
      case 0: return { kind: 'terminal', status: String(reply[1]) };
      case ScriptErrorCode.NOT_PENDING: return { kind: 'not-pending' };
      case ScriptErrorCode.NOT_OWNER: return { kind: 'not-owner' };
      default: throw new TransitionError('UNEXPECTED', `requeueTask answered ${JSON.stringify(reply)}`);
    }
  }

  /**
   * Moves one due delayed retry back to its lane. The caller reads the entry's priority
   * from `delayed:entries` first; see promoteTask.lua.
   */
  async promote(taskId: string, priority: Priority, now: number): Promise<PromoteResult> {
    const k = this.keys;
    const reply = (await this.fn('promoteTask')(
      k.delayed, k.delayedEntries, k.lane(priority), k.task(taskId), k.events, k.deadLetter,
      taskId, now, priority, this.eventsMaxLen,
    )) as [number, string?];
    if (reply[0] === 1) return 'promoted';
    if (reply[0] === 0) return 'not-due';
    if (reply[0] === 4) return 'dead-lettered';
    if (reply[0] === ScriptErrorCode.WRONG_LANE) throw new TransitionError('WRONG_LANE', `delayed task ${taskId} is not in lane ${priority}`);
    return 'dropped';
  }

  /** Records a task's outcome; first result wins (see completeTask.lua). */
  async complete(input: CompleteInput): Promise<CompleteResult> {
    return Transitions.single(this.completeBatch([input]));
  }

  /**
   * Records many outcomes in one script call per BATCH_CHUNK (completeTask.lua): one
   * answer per input, in order, as `complete` gives it, or the Error of its call (a task
   * without projection answers a NO_TASK TransitionError; its entry is acked).
   */
  completeBatch(inputs: readonly CompleteInput[]): Promise<(CompleteResult | Error)[]> {
    const k = this.keys;
    return this.inChunks(inputs, (chunk) => {
      const keys: string[] = [k.events, k.results, k.delayed, k.delayedEntries];
      const args: (string | number)[] = [this.group, this.resultTtl, this.eventsMaxLen, this.resultsMaxLen];
      for (const { result, priority, entryId, consumer, now } of chunk) {
        keys.push(k.task(result.taskId), k.lane(priority), k.openTasks(result.tenant));
        // One argument per task, strings only (see the script's header).
        args.push(JSON.stringify([result.taskId, entryId ?? '', String(now), result.outcome, String(result.attempt), consumer, encodeResultEntry(result).map(wellFormed)]));
      }
      return this.fn('completeTask')(keys.length, ...keys, ...args);
    }, (reply, n): CompleteResult | Error => {
      const r = reply as [number, string?];
      const taskId = inputs[n]?.result.taskId;
      if (r[0] === ScriptErrorCode.NO_TASK) return new TransitionError('NO_TASK', `task ${taskId} has no projection`);
      if (r[0] === 0) return { published: false, status: String(r[1]) };
      if (r[0] === 1) return { published: true, resultId: String(r[1]) };
      if (r[0] === ScriptErrorCode.BAD_ARGUMENT) return badArgument('completeTask', taskId, r[1]);
      return new TransitionError('UNEXPECTED', `completeTask answered ${JSON.stringify(r)} for task ${taskId}`);
    });
  }

  /**
   * The producers' side effects of a batch of results read through the `producers`
   * group (counts, open-task release, webhook scheduling), each with its XACK, in one
   * atomic script call (dispatchResults.lua). A result another instance already acked
   * (it took the batch over while this one was frozen) is left alone. Returns how many
   * results this call handled and how many webhooks it scheduled.
   */
  async dispatchResults(input: DispatchInput): Promise<{ handled: number; webhooks: number }> {
    const k = this.keys;
    const tenants = new Map<string, number>();
    for (const r of input.results) if (!tenants.has(r.tenant)) tenants.set(r.tenant, tenants.size + 1);
    const keys = [k.results, k.stats, k.webhooks];
    const args: (string | number)[] = [input.group, input.now, input.results.length, tenants.size];
    for (const r of input.results) keys.push(k.task(r.taskId));
    for (const t of tenants.keys()) {
      keys.push(k.openTasks(t));
      args.push(t);
    }
    for (const r of input.results) args.push(r.entryId, r.taskId, r.outcome, tenants.get(r.tenant) ?? 0);
    for (const id of input.undecodable) args.push(id);
    const [handled, webhooks] = (await this.fn('dispatchResults')(keys.length, ...keys, ...args)) as [number, number];
    return { handled: Number(handled), webhooks: Number(webhooks) };
  }

  /**
   * Moves an undecodable lane entry to `dead-letter` with `reason`, acked and deleted in
   * the same step. `fields` is the raw entry (null when Redis lost its payload).
   */
  async deadLetterPoison(input: { stream: string; entryId: string; fields: string[] | null; reason: string; consumer: string; now: number }): Promise<string> {
    const k = this.keys;
    const fields = input.fields ?? [];
    const taskIdx = fields.findIndex((f, i) => i % 2 === 0 && f === 'task');
    const taskId = taskIdx >= 0 ? (fields[taskIdx + 1] ?? '').slice(0, 128) : '';
    const raw = JSON.stringify(fields).slice(0, 1_000_000);
    return String(await this.fn('deadLetterEntry')(
      input.stream, k.deadLetter, k.events,
      input.entryId, this.group, input.now, input.reason, input.consumer, raw, taskId, this.eventsMaxLen,
    ));
  }

  /**
   * Deletes consumer `consumer` of `lane`'s group if, and only if, it has nothing
   * pending, in one step (removeConsumer.lua); false when it has entries pending.
   */
  async removeConsumer(lane: string, consumer: string): Promise<boolean> {
    return Number(await this.fn('removeConsumer')(lane, this.group, consumer)) === 0;
  }

  private static endReply(reply: [number, string?]): EndResult {
    switch (reply[0]) {
      case 1: return { kind: 'done', resultId: String(reply[1]) };
      case 0: return { kind: 'terminal', status: String(reply[1]) };
      case ScriptErrorCode.NO_TASK: return { kind: 'no-task' };
      case ScriptErrorCode.NOT_DUE: return { kind: 'not-due' };
      default: throw new TransitionError('UNEXPECTED', `answer ${JSON.stringify(reply)}`);
    }
  }

  /** A client cancels a task without an outcome; `tenant` '' = any. See cancelTask.lua. */
  async cancel(input: { taskId: string; tenant: string; reason: string; now: number }): Promise<EndResult> {
    const k = this.keys;
    const reply = (await this.fn('cancelTask')(
      k.task(input.taskId), k.events, k.results, k.delayed, k.delayedEntries, k.openTasks(input.tenant), ...k.lanes,
      input.taskId, input.now, input.tenant, this.resultTtl, this.eventsMaxLen, this.resultsMaxLen, input.reason.slice(0, 300),
    )) as [number, string?];
    return Transitions.endReply(reply);
  }

  /** Fails a task still open `graceMs` past its deadline with ERROR_CAPTCHA_UNSOLVABLE. See expireTask.lua. */
  async expire(input: { taskId: string; graceMs: number; now: number }): Promise<EndResult> {
    const k = this.keys;
    const reply = (await this.fn('expireTask')(
      k.task(input.taskId), k.events, k.results, k.delayed, k.delayedEntries, ...k.lanes,
      input.taskId, input.now, input.graceMs, this.resultTtl, this.eventsMaxLen, this.resultsMaxLen,
    )) as [number, string?];
    return Transitions.endReply(reply);
  }

  /** Queues a client's report on a solved task for the workers (reports stream). See reportTask.lua. */
  async report(input: { taskId: string; tenant: string; verdict: ReportVerdict; windowMs: number; reportsMaxLen?: number; now: number }): Promise<ReportResult> {
    const k = this.keys;
    const reply = (await this.fn('reportTask')(
      k.task(input.taskId), k.events, k.reports,
      input.taskId, input.now, input.tenant, input.verdict, input.windowMs, this.eventsMaxLen, input.reportsMaxLen ?? 100_000,
    )) as [number, string?];
    if (reply[0] === 1) return { kind: 'recorded', reportId: String(reply[1]) };
    if (reply[0] === 0) return { kind: 'refused', reason: reply[1] as 'not-solved' | 'too-late' | 'duplicate' };
    return { kind: 'no-task' };
  }

  /** Records one webhook delivery attempt on the projection and in the events. See recordDelivery.lua. */
  async recordDelivery(input: { taskId: string; event: DeliveryEvent; attempt: number; httpStatus?: number; error?: string; now: number }): Promise<boolean> {
    const k = this.keys;
    const reply = await this.fn('recordDelivery')(
      k.task(input.taskId), k.events,
      input.taskId, input.now, input.event, input.attempt, input.httpStatus ?? '', (input.error ?? '').slice(0, 300), this.eventsMaxLen,
    );
    return reply === 1;
  }
}
