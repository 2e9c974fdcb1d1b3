/**
 * The worker's read → solve → complete loop.
 *
 * States: RUNNING → DRAINING → STOPPED.
 *   RUNNING   reads entries whenever a slot is free and solves them concurrently
 *             (async I/O; at most `concurrency` tasks solving at once).
 *   DRAINING  `close()` was called: no more reads; in-flight tasks get `graceMs` to
 *             finish; whatever is left stays pending in the group (its checkpoint is
 *             in the projection) for another worker to resume.
 *   STOPPED   pollers closed; Redis connections closed by the owner.
 *
 * Reading: lanes are swept highest priority first with non-blocking XREADGROUP, then,
 * when all are empty, one blocking XREADGROUP over all lanes (COUNT 1 per lane). That
 * blocking read can return one entry per lane at once, so up to lanes−1 entries may
 * wait in a small local backlog: solving stays strictly bounded by `concurrency`.
 *
 * Robustness: every Redis error in the loop is logged and retried with backoff; NOGROUP
 * (Redis restarted without data, or wiped) recreates the groups. A decode failure
 * (poison entry) goes to `dead-letter` with its reason. A bug in one task's handler is
 * contained to that task; it never kills the loop.
 */
import type { Redis } from 'ioredis';
import { retryDelay, type Logger } from '@solvestream/core';
import {
  decodeTaskEntry,
  ensureWorkerGroups,
  flattenReadReply,
  Transitions,
  WORKERS_GROUP,
  PRIORITIES,
  laneOf,
  type Keyspace,
  type StreamEntry,
  type TaskEntry,
} from '@solvestream/contracts';
import { solveTask, type SolveDeps, type SolveEnd } from './solve';

export interface WorkerOptions {
  /** Command connection (role `worker`). */
  redis: Redis;
  /** Dedicated connection for the blocking read (role `blocking`). */
  blockingRedis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  logger: Logger;
  consumer: string;
  /** Most tasks solving at once in this process. */
  concurrency: number;
  /** How long one blocking read waits for new entries, ms. Default 2,000. */
  blockMs?: number;
  solve: Omit<SolveDeps, 'transitions' | 'logger' | 'consumer' | 'sleep' | 'isStopping'>;
}

type State = 'running' | 'draining' | 'stopped';

export interface WorkerStats {
  state: State;
  inFlight: number;
  solved: number;
  failed: number;
  duplicates: number;
  abandoned: number;
  poison: number;
  errors: number;
}

export class Worker {
  private state: State = 'running';
  private readonly inFlight = new Set<Promise<void>>();
  private readonly backlog: { entry: TaskEntry; id: string; checkpoint?: { provider: string; providerTaskId: string } }[] = [];
  private readonly stopController = new AbortController();
  private slotFreed: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  readonly stats: WorkerStats = { state: 'running', inFlight: 0, solved: 0, failed: 0, duplicates: 0, abandoned: 0, poison: 0, errors: 0 };

  constructor(private readonly o: WorkerOptions) {}

  async start(): Promise<void> {
    await ensureWorkerGroups(this.o.redis, this.o.keys);
    this.loopDone = this.loop();
  }

  private get free(): number {
    return this.o.concurrency - this.inFlight.size - this.backlog.length;
  }

  private sleep = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (this.stopController.signal.aborted) return resolve(false);
      const t = setTimeout(() => { this.stopController.signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
      const onAbort = (): void => { clearTimeout(t); resolve(false); };
      this.stopController.signal.addEventListener('abort', onAbort, { once: true });
    });

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      try {
        if (this.free <= 0) {
          await new Promise<void>((r) => (this.slotFreed = r));
          continue;
        }
        const entries = await this.read(this.free);
        failures = 0;
        await this.accept(entries);
      } catch (err) {
        if (this.state !== 'running') break;
        this.stats.errors++;
        failures++;
        const message = err instanceof Error ? err.message : String(err);
        this.o.logger.error({ err: message }, 'read loop error; backing off');
        if (message.includes('NOGROUP')) {
          await ensureWorkerGroups(this.o.redis, this.o.keys).catch(() => undefined);
        }
        await this.sleep(retryDelay(failures));
      }
    }
  }

  /** Priority sweep (non-blocking), then one blocking read over all lanes. */
  private async read(free: number): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    for (const lane of this.o.keys.lanes) {
      const want = free - out.length;
      if (want <= 0) break;
      const reply = await this.o.redis.xreadgroup('GROUP', WORKERS_GROUP, this.o.consumer, 'COUNT', want, 'STREAMS', lane, '>');
      out.push(...flattenReadReply(reply));
    }
    if (out.length > 0 || this.state !== 'running') return out;
    const lanes = this.o.keys.lanes;
    const reply = await this.o.blockingRedis.xreadgroup(
      'GROUP', WORKERS_GROUP, this.o.consumer, 'COUNT', 1, 'BLOCK', this.o.blockMs ?? 2000,
      'STREAMS', ...lanes, ...lanes.map(() => '>'),
    );
    return flattenReadReply(reply);
  }

  /** Decodes a batch, dead-letters poison, claims the rest in one pipeline, starts solving. */
  private async accept(entries: StreamEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.o.solve.clock();
    const good: { entry: TaskEntry; id: string }[] = [];
    for (const e of entries) {
      const decoded = e.fields ? decodeTaskEntry(e.fields) : { ok: false as const, reason: 'entry payload is gone (deleted while pending)' };
      const lanePriority = laneOf(this.o.keys, e.stream);
      if (decoded.ok && decoded.value.priority !== lanePriority) {
        await this.poison(e, `priority ${decoded.value.priority} does not match lane ${e.stream}`, now);
      } else if (decoded.ok) {
        good.push({ entry: decoded.value, id: e.id });
      } else {
        await this.poison(e, decoded.reason, now);
      }
    }
    if (good.length === 0) return;
    const pipeline = this.o.redis.pipeline();
    for (const g of good) this.o.transitions.claimOn(pipeline, { entry: g.entry, entryId: g.id, consumer: this.o.consumer, now });
    const replies = (await pipeline.exec()) ?? [];
    const ready: { entry: TaskEntry; id: string; checkpoint?: { provider: string; providerTaskId: string } }[] = [];
    good.forEach((g, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), null];
      if (err) {
        // Left pending: the lease expires and another worker (or this one) gets it again.
        this.o.logger.error({ taskId: g.entry.taskId, err: err.message }, 'claim failed');
        return;
      }
      const claim = Transitions.claimReply(reply);
      if (claim.proceed) ready.push({ ...g, checkpoint: claim.checkpoint });
    });
    // Highest priority first when more arrived than there are slots.
    ready.sort((a, b) => PRIORITIES.indexOf(a.entry.priority) - PRIORITIES.indexOf(b.entry.priority));
    for (const r of ready) {
      if (this.inFlight.size < this.o.concurrency) this.startSolving(r.entry, r.id, r.checkpoint);
      else this.backlog.push(r);
    }
  }

  private async poison(e: StreamEntry, reason: string, now: number): Promise<void> {
    this.stats.poison++;
    this.o.logger.warn({ stream: e.stream, entryId: e.id, reason }, 'poison entry moved to dead-letter');
    await this.o.transitions.deadLetterPoison({ stream: e.stream, entryId: e.id, fields: e.fields, reason, consumer: this.o.consumer, now });
  }

  private startSolving(entry: TaskEntry, id: string, checkpoint?: { provider: string; providerTaskId: string }): void {
    const deps: SolveDeps = {
      ...this.o.solve,
      transitions: this.o.transitions,
      logger: this.o.logger,
      consumer: this.o.consumer,
      sleep: this.sleep,
      isStopping: () => this.state !== 'running',
    };
    const p: Promise<void> = solveTask(deps, entry, id, checkpoint)
      .then((end) => this.count(end))
      .catch((err: unknown) => {
        // Contained: the entry stays pending and is resumed from its checkpoint later.
        this.stats.errors++;
        this.o.logger.error({ taskId: entry.taskId, err: err instanceof Error ? err.message : String(err) }, 'task handler failed; entry left pending');
      })
      .finally(() => {
        this.inFlight.delete(p);
        const next = this.state === 'running' ? this.backlog.shift() : undefined;
        if (next) this.startSolving(next.entry, next.id, next.checkpoint);
        this.stats.inFlight = this.inFlight.size;
        const wake = this.slotFreed;
        this.slotFreed = undefined;
        wake?.();
      });
    this.inFlight.add(p);
    this.stats.inFlight = this.inFlight.size;
  }

  private count(end: SolveEnd): void {
    if (end === 'solved') this.stats.solved++;
    else if (end === 'failed') this.stats.failed++;
    else if (end === 'duplicate') this.stats.duplicates++;
    else this.stats.abandoned++;
  }

  /**
   * Stops reading, gives in-flight tasks `graceMs` to finish, then abandons the rest
   * (they stay pending with their checkpoints). Safe to call twice.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'draining';
    this.stats.state = 'draining';
    this.slotFreed?.();
    // Unblock a pending XREADGROUP BLOCK at once instead of waiting out blockMs.
    this.o.blockingRedis.disconnect();
    await this.loopDone;
    const all = Promise.allSettled([...this.inFlight]);
    const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([all, timer]);
    this.stopController.abort();
    for (const p of this.o.solve.providers.values()) p.poller.close();
    await all;
    this.state = 'stopped';
    this.stats.state = 'stopped';
  }
}
