/**
 * One poller per provider: every due task id is batched into one
 * `res.php?action=get&ids=…` request (up to the provider's cap), so 10,000 tasks in
 * flight cost ~N/100 requests per poll interval instead of N.
 *
 * States of a watch: waiting (until its `dueAt`) → due (queued for a request) →
 * polling (in a request) → waiting | settled. A watch settles on an answer, a permanent
 * error, or its deadline. Transient errors (network, provider busy, nonsense) only push
 * `dueAt` back: polling a known provider id again is free, submitting again is not.
 *
 * The tick scans all watches (O(n) every `tickMs`): ~1 ms for 10,000 watches, cheaper
 * than keeping a heap in order for a set that changes on every answer. It moves due
 * watches to a FIFO queue; requests are started from that queue whenever one of the
 * `maxConcurrentRequests` slots is free — at a tick and as soon as a request ends — so
 * single-get providers are not held to `maxConcurrentRequests` per tick.
 *
 * A watch that is due when it is registered (a resumed task, or a first-poll delay of
 * 0) does not wait for the tick: it is queued at once and the queue is pumped on the
 * next turn of the event loop, so the watches registered in one turn still share one
 * request. With an instant provider the 100 ms tick was most of the submit → result
 * latency (p50 ~50 ms; test/bench/pipeline.ts, issue 8).
 *
 * Tracing: every poll request is one `poll <provider>` CLIENT span, a root LINKED to the
 * poll-phase span of each task it asks about (a request serves many tasks; a span has
 * one parent), with the provider task id on each link. The HTTP call is its child.
 */
import type { TaskType, Solution } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import type { ProviderClient, PollSlot } from './client';
import type { ProviderError } from './errors';
import { ATTR_PROVIDER, ATTR_PROVIDER_TASK_ID, endWithError, startBatchSpan, withSpan, type Span, type SpanContext } from '@solvestream/telemetry';

export type PollOutcome =
  | { state: 'ready'; solution: Solution; polls: number }
  | { state: 'error'; error: ProviderError; polls: number }
  | { state: 'deadline'; polls: number }
  | { state: 'cancelled'; polls: number };

export interface PollerOptions {
  /** Interval between polls of one task after the first, ms. Default 5,000. */
  intervalMs?: number;
  /** Scheduler resolution, ms. Default 100. */
  tickMs?: number;
  /** Most poll requests in flight at once. Default 8. */
  maxConcurrentRequests?: number;
  clock?: () => number;
  logger?: Logger;
}

interface Watch {
  id: string;
  type: TaskType;
  single: boolean;
  dueAt: number;
  deadline: number;
  polls: number;
  /** The task's poll-phase span: each request for this id links to it. */
  trace: SpanContext | undefined;
  /** Queued for a request or in one. */
  busy: boolean;
  settled: boolean;
  settle: (o: PollOutcome) => void;
}

/**
 * FIFO of due watches; settled ones are skipped when taken. A taken slot is cleared at
 * once: the array is compacted only now and then (past 1,024 taken), and until then a
 * slot kept its watch reachable, and with it the watch's settled promise and solution.
 */
class DueQueue {
  private items: (Watch | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(w: Watch): void {
    this.items.push(w);
  }
  shift(): Watch | undefined {
    while (this.head < this.items.length) {
      const w = this.items[this.head] as Watch;
      this.items[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (!w.settled) return w;
    }
    return undefined;
  }
}

export class Poller {
  private readonly watches = new Map<string, Watch>();
  private readonly intervalMs: number;
  private readonly maxConcurrent: number;
  private readonly clock: () => number;
  private inFlightRequests = 0;
  private readonly dueMulti = new DueQueue();
  private readonly dueSingle = new DueQueue();
  private timer: NodeJS.Timeout | undefined;
  private pumpQueued = false;

  constructor(private readonly client: ProviderClient, private readonly options: PollerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.maxConcurrent = options.maxConcurrentRequests ?? 8;
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.watches.size;
  }

  /**
   * Resolves when provider task `id` has an answer, a permanent error, or passes
   * `deadline`; `cancelled` when the poller closes, when a newer watch of the same id
   * replaces this one, or when `stop` resolves (the caller lost the task: this watch
   * stops, and a newer watch of the id by its new owner is left alone).
   */
  watch(id: string, type: TaskType, o: { firstPollAt: number; deadline: number; single?: boolean; trace?: SpanContext; stop?: Promise<unknown> }): Promise<PollOutcome> {
    const existing = this.watches.get(id);
    if (existing) existing.settle({ state: 'cancelled', polls: existing.polls });
    return new Promise((resolve) => {
      const w: Watch = {
        id, type, single: o.single === true || !this.client.multiGet, dueAt: o.firstPollAt, deadline: o.deadline,
        polls: 0, trace: o.trace, busy: false, settled: false,
        settle: (outcome) => {
          if (w.settled) return;
          w.settled = true;
          if (this.watches.get(id) === w) this.watches.delete(id);
          resolve(outcome);
        },
      };
      this.watches.set(id, w);
      this.ensureTimer();
      if (w.dueAt <= this.clock()) this.dueNow(w);
      o.stop?.then(() => w.settle({ state: 'cancelled', polls: w.polls }), () => undefined);
    });
  }

  /** Settles every watch as cancelled and stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of [...this.watches.values()]) w.settle({ state: 'cancelled', polls: w.polls });
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 100);
  }

  private tick(): void {
    if (this.watches.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = this.clock();
    for (const w of this.watches.values()) {
      if (now >= w.deadline) {
        // A watch in a request settles now; the request's answer is then ignored.
        w.settle({ state: 'deadline', polls: w.polls });
        continue;
      }
      if (w.busy || w.dueAt > now) continue;
      w.busy = true;
      (w.single ? this.dueSingle : this.dueMulti).push(w);
    }
    this.pump();
  }

  /** Queues a watch that is already due; one pump per event-loop turn batches every such watch. */
  private dueNow(w: Watch): void {
    w.busy = true;
    (w.single ? this.dueSingle : this.dueMulti).push(w);
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts requests from the due queues while a request slot is free. */
  private pump(): void {
    while (this.inFlightRequests < this.maxConcurrent) {
      if (this.dueMulti.length > 0) {
        const batch: Watch[] = [];
        for (let w = this.dueMulti.shift(); w; w = batch.length < this.client.maxIdsPerGet ? this.dueMulti.shift() : undefined) batch.push(w);
        if (batch.length > 0) {
          this.pollMany(batch);
          continue;
        }
      }
      const w = this.dueSingle.shift();
      if (!w) return;
      this.pollOne(w);
    }
  }

  private apply(w: Watch, slot: PollSlot, now: number): void {
    if (w.settled) return;
    w.busy = false;
    if (slot.state === 'ready') return w.settle({ state: 'ready', solution: slot.solution, polls: w.polls });
    if (slot.state === 'error' && slot.error.errorClass === 'permanent') return w.settle({ state: 'error', error: slot.error, polls: w.polls });
    if (slot.state === 'error') this.options.logger?.warn({ providerTaskId: w.id, code: slot.error.code }, 'poll error; will poll again');
    w.dueAt = now + this.intervalMs;
  }

  private pollOne(w: Watch): void {
    w.polls++;
    this.inFlightRequests++;
    const span = this.requestSpan([w]);
    withSpan(span, () => this.client.getOne(w.id, w.type))
      .then((slot) => {
        this.apply(w, slot, this.clock());
        span.end();
      })
      .catch((err: unknown) => this.failBatch([w], err, span))
      .finally(() => this.requestDone());
  }

  private pollMany(ws: Watch[]): void {
    for (const w of ws) w.polls++;
    this.inFlightRequests++;
    const types = new Map(ws.map((w) => [w.id, w.type] as const));
    const span = this.requestSpan(ws);
    withSpan(span, () => this.client.getMany(ws.map((w) => w.id), types))
      .then((slots) => {
        const now = this.clock();
        for (const w of ws) this.apply(w, slots.get(w.id) ?? { state: 'pending' }, now);
        span.end();
      })
      .catch((err: unknown) => this.failBatch(ws, err, span))
      .finally(() => this.requestDone());
  }

  private requestSpan(ws: readonly Watch[]): Span {
    return startBatchSpan(
      `poll ${this.client.name}`,
      ws.map((w) => ({ context: w.trace, attributes: { [ATTR_PROVIDER_TASK_ID]: w.id } })),
      { [ATTR_PROVIDER]: this.client.name },
    );
  }

  private requestDone(): void {
    this.inFlightRequests--;
    this.pump();
  }

  /** A whole request failed (network, nonsense): every id in it waits one interval more. */
  private failBatch(ws: Watch[], err: unknown, span: Span): void {
    endWithError(span, 'POLL_REQUEST_FAILED', err instanceof Error ? err.message : String(err));
    this.options.logger?.warn({ err: err instanceof Error ? err.message : String(err), ids: ws.length }, 'poll request failed; will poll again');
    const now = this.clock();
    for (const w of ws) { w.busy = false; w.dueAt = now + this.intervalMs; }
  }
}
