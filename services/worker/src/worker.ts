/**
 * The worker's read → solve → complete loop.
 *
 * States: RUNNING → DRAINING → STOPPED.
 *   RUNNING   reads entries whenever a slot is free and solves them concurrently
 *             (async I/O; at most `concurrency` tasks solving at once).
 *   DRAINING  `close()` was called: no more reads; in-flight tasks get `graceMs` to
 *             finish; whatever is left is handed back at once (`requeueTask` mode
 *             handback: a new entry with its checkpoint), so another worker resumes it
 *             without waiting for the lease to expire.
 *   STOPPED   pollers closed; Redis connections closed by the owner.
 *
 * Reading: every lane gets a guaranteed share of the free slots, the rest goes highest
 * priority first (non-blocking XREADGROUP; see `read`); when all lanes are empty, one
 * blocking XREADGROUP over all lanes (COUNT free/lanes per lane, at least 1), repeated
 * while it comes back short (a trickle of tasks: one read each). That blocking read can
 * return up to lanes−1 entries more than are free, which wait in a small local backlog:
 * solving stays strictly bounded by `concurrency`.
 *
 * Leases (leases.ts): every entry this worker holds is renewed every `leaseMs / 3`
 * (XCLAIM to itself with JUSTID: resets the idle time without counting a delivery). An
 * entry idle past `leaseMs` belongs to a dead or frozen worker and the supervisor
 * reclaims it. When a renewal finds an entry gone, that task is abandoned here (its new
 * delivery runs elsewhere); before paying for a submit, and again when the request
 * leaves the HTTP queue, the lease is confirmed — by what this process knew when it
 * SENT its last claim or renewal, never by when the reply came back. A claim of an entry
 * that is no longer pending here (reclaimed between the read and the claim while this
 * worker was frozen, or lost with a wiped Redis) is refused by claimTask and dropped.
 * Checkpoints paid for here outlive a lost lease in the CheckpointKeeper.
 *
 * Robustness: every Redis error in the loop is logged and retried with backoff; NOGROUP
 * (Redis restarted without data, or wiped) recreates the groups. A decode failure
 * (poison entry) goes to `dead-letter` with its reason. A bug in one task's handler is
 * contained to that task; it never kills the loop.
 */
import type { Redis } from 'ioredis';
import { retryDelay, WriteBatch, type Logger } from '@solvestream/core';
import {
  decodeTaskEntry,
  ensureWorkerGroups,
  flattenReadReply,
  Transitions,
  WORKERS_GROUP,
  PRIORITIES,
  laneOf,
  type Keyspace,
  type CheckpointInput,
  type CompleteInput,
  type StreamEntry,
  type TaskEntry,
} from '@solvestream/contracts';
import { LeaseLoss, solveTask, type SolveDeps, type SolveEnd } from './solve';
import { CheckpointKeeper } from './checkpoint-keeper';
import { Leases } from './leases';
import { startProcessSpan, withSpan, type ParentMode } from '@solvestream/telemetry';
import type { WorkerMetrics } from './metrics';

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
  /** Lease of a held entry, ms; renewed every third of it. Default 30,000. */
  leaseMs?: number;
  /** Failures (reclaims + retries) after which a task is dead-lettered. Default 5. */
  maxFailures?: number;
  /** How often held checkpoints are checked against the dr-recovery epoch marker, ms (checkpoint-keeper.ts). Default 1,000. */
  checkpointCheckMs?: number;
  /** Heartbeat period, ms (0 = none). Default 5,000. */
  heartbeatMs?: number;
  /** Reported in heartbeats. */
  version?: string;
  /** Prometheus metrics (optional). */
  metrics?: WorkerMetrics;
  /** Process spans: link to the creation context (default) or use it as parent. */
  traceParentMode?: ParentMode;
  solve: Omit<SolveDeps, 'transitions' | 'logger' | 'consumer' | 'isStopping' | 'maxFailures'>;
}

type State = 'running' | 'draining' | 'stopped';

/** Most entries taken in one read. */
const READ_BATCH = 500;

/** Guaranteed share of free slots per lane, critical → low (see `read`). */
const LANE_SHARES = [0.5, 0.25, 0.15, 0.1];

export interface WorkerStats {
  state: State;
  inFlight: number;
  solved: number;
  failed: number;
  duplicates: number;
  retried: number;
  handedBack: number;
  lost: number;
  poison: number;
  errors: number;
}

export class Worker {
  private state: State = 'running';
  private readonly inFlight = new Set<Promise<void>>();
  private readonly backlog: { entry: TaskEntry; id: string; checkpoint?: { provider: string; providerTaskId: string } }[] = [];
  private readonly stopController = new AbortController();
  private slotFreed: (() => void) | undefined;
  /** The last read blocked and came back short: see `read`. */
  private idle = false;
  private loopDone: Promise<void> | undefined;
  /** Entries this worker holds (claimed, solving or in the backlog), by entry id. */
  private readonly leases: Leases;
  private timers: NodeJS.Timeout[] = [];
  /** When the read loop last went round (liveness). */
  lastLoopAt = Date.now();
  /** Deficit-round-robin credit per lane (see `read`). */
  private readonly credits: number[] = [];
  readonly stats: WorkerStats = {
    state: 'running', inFlight: 0, solved: 0, failed: 0, duplicates: 0, retried: 0, handedBack: 0, lost: 0, poison: 0, errors: 0,
  };

  /** Most tasks solving at once; starts as `o.concurrency`, changed by `setConcurrency`. */
  private concurrency: number;
  /** Version of the runtime config in force here (heartbeats report it); 0 = none. */
  configVersion = 0;

  /** Paid-for checkpoints, written again after a Redis wipe (checkpoint-keeper.ts). */
  readonly checkpoints: CheckpointKeeper;
  /** What every task's solve needs: one object shared by all of them, not one per task. */
  private readonly deps: SolveDeps;

  constructor(private readonly o: WorkerOptions) {
    this.leases = new Leases({ redis: o.redis, consumer: o.consumer, leaseMs: o.leaseMs ?? 30_000, logger: o.logger });
    this.concurrency = o.concurrency;
    this.checkpoints = new CheckpointKeeper({
      redis: o.redis, keys: o.keys, transitions: o.transitions, logger: o.logger.child({ component: 'checkpoints' }),
      consumer: o.consumer, clock: o.solve.clock, intervalMs: o.checkpointCheckMs,
      onReasserted: (n) => o.metrics?.checkpointsReasserted(n),
    });
    // Checkpoints and completes of one event-loop turn share one script call (write-batch.ts).
    const checkpoints = new WriteBatch((inputs: CheckpointInput[]) => o.transitions.checkpointBatch(inputs));
    const completes = new WriteBatch((inputs: CompleteInput[]) => o.transitions.completeBatch(inputs));
    const transitions: SolveDeps['transitions'] = {
      checkpoint: checkpoints.run, complete: completes.run, requeue: (i) => o.transitions.requeue(i),
    };
    this.deps = {
      ...o.solve, transitions, logger: o.logger, consumer: o.consumer,
      isStopping: () => this.state !== 'running', maxFailures: o.maxFailures ?? 5, checkpoints: this.checkpoints,
    };
  }

  /**
   * Changes the bound on tasks solving at once (runtime config). Lowering it never
   * interrupts a task: the loop stops reading until enough tasks end. Raising it starts
   * backlogged tasks at once and wakes a loop waiting for a slot.
   */
  setConcurrency(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error(`concurrency must be a positive integer, got ${n}`);
    this.concurrency = n;
    while (this.state === 'running' && this.inFlight.size < this.concurrency && this.backlog.length > 0) {
      const next = this.backlog.shift() as (typeof this.backlog)[number];
      this.startSolving(next.entry, next.id, next.checkpoint);
    }
    if (this.free > 0) {
      const wake = this.slotFreed;
      this.slotFreed = undefined;
      wake?.();
    }
  }

  /** The bound in force (see setConcurrency). */
  get maxConcurrency(): number {
    return this.concurrency;
  }

  async start(): Promise<void> {
    await ensureWorkerGroups(this.o.redis, this.o.keys);
    this.checkpoints.start();
    this.loopDone = this.loop();
    this.timers.push(setInterval(() => void this.leases.renew(), this.leases.renewEveryMs));
    const hb = this.o.heartbeatMs ?? 5000;
    if (hb > 0) {
      void this.heartbeat();
      this.timers.push(setInterval(() => void this.heartbeat(), hb));
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.o.redis.xadd(this.o.keys.heartbeats, 'MAXLEN', '~', 10_000, '*',
        'v', '1', 'service', 'worker', 'instance', this.o.consumer, 'version', this.o.version ?? '0',
        'state', this.state, 'inFlight', this.inFlight.size, 'held', this.leases.size, 'concurrency', this.concurrency, 'configVersion', this.configVersion,
        'solved', this.stats.solved, 'failed', this.stats.failed, 'at', Date.now());
    } catch {
      /* heartbeats are best effort */
    }
  }

  private get free(): number {
    return this.concurrency - this.inFlight.size - this.backlog.length;
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
      this.lastLoopAt = Date.now();
      try {
        if (this.free <= 0) {
          await new Promise<void>((r) => (this.slotFreed = r));
          continue;
        }
        // Bounded batches: a worker with thousands of free slots fills them over several
        // reads instead of decoding and claiming 10,000 entries in one burst (memory peak).
        const entries = await this.read(Math.min(this.free, READ_BATCH));
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

  /**
   * Fair priority read (deficit round robin). Every read, each lane earns credit for its
   * share of the free slots (LANE_SHARES: 50/25/15/10 % from critical to low); pass 1
   * reads each lane up to its whole credit in one pipelined round trip, so even when
   * slots free up one at a time under a flood of critical work, the low lane still gets
   * about one slot in ten: no lane starves. Pass 2 hands leftover slots to the lanes in
   * strict priority order. A lane found empty loses its saved credit. When every lane is
   * empty: one blocking read over all lanes.
   */
  private async read(free: number): Promise<StreamEntry[]> {
    const lanes = this.o.keys.lanes;
    // Idle (the last read blocked and got less than it asked for): block again at once.
    // A blocking read answers at once when entries are there, so under a trickle of
    // tasks each one costs one read instead of the fair pass (one XREADGROUP per lane,
    // all empty) plus the blocking read: at 500 tasks/s that was 5.4 reads per task.
    if (this.idle && this.state === 'running') return this.blockingRead(free);
    const out: StreamEntry[] = [];
    const shares = lanes.map((_, i) => {
      const share = LANE_SHARES[i] ?? 0;
      this.credits[i] = Math.min((this.credits[i] ?? 0) + free * share, Math.max(1, this.concurrency * share));
      return Math.floor(this.credits[i] ?? 0);
    });
    let budget = free;
    const first = this.o.redis.pipeline();
    const asked: number[] = [];
    lanes.forEach((lane, i) => {
      const want = Math.min(shares[i] ?? 0, budget);
      asked.push(want);
      budget -= want;
      if (want > 0) first.xreadgroup('GROUP', WORKERS_GROUP, this.o.consumer, 'COUNT', want, 'STREAMS', lane, '>');
    });
    const replies = (await first.exec()) ?? [];
    const drained: boolean[] = [];
    let r = 0;
    for (const want of asked) {
      if (want === 0) { drained.push(false); continue; }
      const [err, reply] = replies[r++] ?? [null, null];
      if (err) throw err;
      const got = flattenReadReply(reply);
      out.push(...got);
      drained.push(got.length < want);
      const i = drained.length - 1;
      this.credits[i] = got.length < want ? 0 : (this.credits[i] ?? 0) - got.length;
    }
    for (const [i, lane] of lanes.entries()) {
      const want = free - out.length;
      if (want <= 0) break;
      if (drained[i]) continue; // this lane had less than its share: nothing more to get
      const reply = await this.o.redis.xreadgroup('GROUP', WORKERS_GROUP, this.o.consumer, 'COUNT', want, 'STREAMS', lane, '>');
      out.push(...flattenReadReply(reply));
    }
    if (out.length > 0 || this.state !== 'running') return out;
    return this.blockingRead(free);
  }

  /**
   * One blocking read over every lane, COUNT free/lanes each (at least 1, so at most
   * lanes−1 entries past `free` wait in the backlog). A lane that fills its COUNT means
   * work is piling up: the next read is the fair pass again.
   */
  private async blockingRead(free: number): Promise<StreamEntry[]> {
    const lanes = this.o.keys.lanes;
    const count = Math.max(1, Math.floor(free / lanes.length));
    const reply = await this.o.blockingRedis.xreadgroup(
      'GROUP', WORKERS_GROUP, this.o.consumer, 'COUNT', count, 'BLOCK', this.o.blockMs ?? 2000,
      'STREAMS', ...lanes, ...lanes.map(() => '>'),
    );
    // The reply is one [lane, entries] pair per lane that had any.
    this.idle = !(Array.isArray(reply) && (reply as [string, unknown[]][]).some(([, entries]) => entries.length >= count));
    return flattenReadReply(reply);
  }

  /** Decodes a batch, dead-letters poison, claims the rest in one script call, starts solving. */
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
    // Taken before the claim is sent: the claim resets each entry's idle time, so its
    // lease runs at least until leaseFrom + leaseMs, however late its reply is read.
    const leaseFrom = this.leases.now();
    const claims = await this.o.transitions.claimBatch({ consumer: this.o.consumer, now, items: good.map((g) => ({ entry: g.entry, entryId: g.id })) });
    const ready: { entry: TaskEntry; id: string; checkpoint?: { provider: string; providerTaskId: string } }[] = [];
    const failed = claims.filter((c): c is Error => c instanceof Error);
    if (failed.length > 0) {
      // Left pending: the lease expires and another worker (or this one) gets them again.
      this.o.logger.error({ entries: failed.length, err: failed[0]?.message }, 'claim failed');
    }
    good.forEach((g, i) => {
      const claim = claims[i];
      if (claim instanceof Error || !claim) return;
      if (!claim.proceed && claim.status === 'not-pending') {
        this.o.logger.warn({ taskId: g.entry.taskId, entryId: g.id }, 'entry no longer pending here (reclaimed while this worker was stalled, or Redis lost it): dropped');
      }
      if (claim.proceed) {
        ready.push({ ...g, checkpoint: claim.checkpoint });
        const lane = this.o.keys.lane(g.entry.priority);
        this.leases.hold(g.id, lane, g.entry, leaseFrom);
      }
    });
    // Highest priority first when more arrived than there are slots.
    ready.sort((a, b) => PRIORITIES.indexOf(a.entry.priority) - PRIORITIES.indexOf(b.entry.priority));
    for (const r of ready) {
      if (this.inFlight.size < this.concurrency) this.startSolving(r.entry, r.id, r.checkpoint);
      else this.backlog.push(r);
    }
  }

  private async poison(e: StreamEntry, reason: string, now: number): Promise<void> {
    this.stats.poison++;
    this.o.metrics?.poison();
    this.o.logger.warn({ stream: e.stream, entryId: e.id, reason }, 'poison entry moved to dead-letter');
    await this.o.transitions.deadLetterPoison({ stream: e.stream, entryId: e.id, fields: e.fields, reason, consumer: this.o.consumer, now });
  }

  private startSolving(entry: TaskEntry, id: string, checkpoint?: { provider: string; providerTaskId: string }): void {
    const lease = { lost: this.leases.get(id)?.lost ?? new LeaseLoss(), confirm: () => this.leases.confirm(id) };
    const span = startProcessSpan({
      destination: this.o.keys.lane(entry.priority), group: WORKERS_GROUP, consumer: this.o.consumer, messageId: id,
      taskId: entry.taskId, attempt: entry.attempt, carrier: entry.trace, parentMode: this.o.traceParentMode,
      attributes: { 'solvestream.task.type': entry.type, 'solvestream.resumed': checkpoint !== undefined },
    });
    const report: { provider?: string } = {};
    const p: Promise<void> = withSpan(span, () => solveTask(this.deps, entry, id, checkpoint, lease, report))
      .then(async (end) => {
        span.setAttribute('solvestream.end', end);
        if (end === 'abandoned') await this.handBack(entry, id);
        this.count(end);
        this.o.metrics?.record(end, entry.type, report.provider, entry.submittedAt, Date.now());
      })
      .catch((err: unknown) => {
        // Contained: the entry stays pending and is resumed from its checkpoint later.
        this.stats.errors++;
        this.o.logger.error({ taskId: entry.taskId, err: err instanceof Error ? err.message : String(err) }, 'task handler failed; entry left pending');
      })
      .finally(() => {
        span.end();
        this.leases.release(id);
        this.inFlight.delete(p);
        const next = this.state === 'running' && this.inFlight.size < this.concurrency ? this.backlog.shift() : undefined;
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
    const key = ({ solved: 'solved', failed: 'failed', duplicate: 'duplicates', retried: 'retried', abandoned: 'handedBack', lost: 'lost' } as const)[end];
    this.stats[key]++;
  }

  /** Drain: a task this worker will not finish goes back to its lane at once, checkpoint included. */
  private async handBack(entry: TaskEntry, entryId: string): Promise<void> {
    try {
      const r = await this.o.transitions.requeue({
        entry, entryId, consumer: this.o.consumer, mode: 'handback', reason: 'worker draining',
        maxFailures: this.o.maxFailures ?? 5, now: this.o.solve.clock(),
      });
      this.o.logger.info({ taskId: entry.taskId, outcome: r.kind }, 'task handed back');
    } catch (err) {
      // Still pending under this consumer: the supervisor reclaims it after the lease.
      this.o.logger.error({ taskId: entry.taskId, err: err instanceof Error ? err.message : String(err) }, 'hand-back failed; the lease will expire');
    }
  }

  /**
   * Stops reading, gives in-flight tasks `graceMs` to finish, then hands the rest back
   * at once with their checkpoints. Safe to call twice.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'draining';
    this.stats.state = 'draining';
    this.slotFreed?.();
    // Unblock a pending XREADGROUP BLOCK at once instead of waiting out blockMs.
    this.o.blockingRedis.disconnect();
    await this.loopDone;
    // Claimed but never started: straight back.
    const waiting = this.backlog.splice(0);
    await Promise.all(waiting.map(async (b) => {
      await this.handBack(b.entry, b.id);
      this.leases.release(b.id);
      this.stats.handedBack++;
    }));
    const all = Promise.allSettled([...this.inFlight]);
    const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([all, timer]);
    this.stopController.abort();
    for (const p of this.o.solve.providers.values()) p.poller.close();
    await all;
    for (const t of this.timers) clearInterval(t);
    this.checkpoints.close();
    await this.heartbeat();
    this.state = 'stopped';
    this.stats.state = 'stopped';
  }
}
