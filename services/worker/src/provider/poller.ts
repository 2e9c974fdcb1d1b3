/**
 * One poller per provider: every due task id is batched into one
 * `res.php?action=get&ids=…` request (up to the provider's cap), so 10,000 tasks in
 * flight cost ~N/100 requests per poll interval instead of N.
 *
 * States of a watch: waiting (until its `dueAt`) → polling (in a request) → waiting |
 * settled. A watch settles on an answer, a permanent error, or its deadline. Transient
 * errors (network, provider busy, nonsense) only push `dueAt` back: polling a known
 * provider id again is free, submitting again is not.
 *
 * The tick scans all watches (O(n) every `tickMs`): ~1 ms for 10,000 watches, cheaper
 * than keeping a heap in order for a set that changes on every answer.
 */
import type { TaskType, Solution } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';
import type { ProviderClient, PollSlot } from './client';
import type { ProviderError } from './errors';

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
  busy: boolean;
  settle: (o: PollOutcome) => void;
}

export class Poller {
  private readonly watches = new Map<string, Watch>();
  private readonly intervalMs: number;
  private readonly maxConcurrent: number;
  private readonly clock: () => number;
  private inFlightRequests = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly client: ProviderClient, private readonly options: PollerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.maxConcurrent = options.maxConcurrentRequests ?? 8;
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.watches.size;
  }

  /** Resolves when provider task `id` has an answer, a permanent error, or passes `deadline`. */
  watch(id: string, type: TaskType, o: { firstPollAt: number; deadline: number; single?: boolean }): Promise<PollOutcome> {
    const existing = this.watches.get(id);
    if (existing) existing.settle({ state: 'cancelled', polls: existing.polls });
    return new Promise((resolve) => {
      const w: Watch = {
        id, type, single: o.single === true || !this.client.multiGet, dueAt: o.firstPollAt, deadline: o.deadline,
        polls: 0, busy: false,
        settle: (outcome) => {
          if (this.watches.get(id) === w) this.watches.delete(id);
          resolve(outcome);
        },
      };
      this.watches.set(id, w);
      this.ensureTimer();
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
    const batch: Watch[] = [];
    for (const w of this.watches.values()) {
      if (w.busy) continue;
      if (now >= w.deadline) {
        w.settle({ state: 'deadline', polls: w.polls });
        continue;
      }
      if (w.dueAt > now) continue;
      if (this.inFlightRequests >= this.maxConcurrent) continue;
      if (w.single) {
        this.pollOne(w);
      } else {
        batch.push(w);
        if (batch.length === this.client.maxIdsPerGet) this.pollMany(batch.splice(0));
      }
    }
    if (batch.length) this.pollMany(batch);
  }

  private apply(w: Watch, slot: PollSlot, now: number): void {
    w.busy = false;
    if (slot.state === 'ready') return w.settle({ state: 'ready', solution: slot.solution, polls: w.polls });
    if (slot.state === 'error' && slot.error.errorClass === 'permanent') return w.settle({ state: 'error', error: slot.error, polls: w.polls });
    if (slot.state === 'error') this.options.logger?.warn({ providerTaskId: w.id, code: slot.error.code }, 'poll error; will poll again');
    w.dueAt = now + this.intervalMs;
  }

  private pollOne(w: Watch): void {
    w.busy = true;
    w.polls++;
    this.inFlightRequests++;
    this.client
      .getOne(w.id, w.type)
      .then((slot) => this.apply(w, slot, this.clock()))
      .catch((err: unknown) => this.failBatch([w], err))
      .finally(() => this.inFlightRequests--);
  }

  private pollMany(ws: Watch[]): void {
    for (const w of ws) { w.busy = true; w.polls++; }
    this.inFlightRequests++;
    const types = new Map(ws.map((w) => [w.id, w.type] as const));
    this.client
      .getMany(ws.map((w) => w.id), types)
      .then((slots) => {
        const now = this.clock();
        for (const w of ws) this.apply(w, slots.get(w.id) ?? { state: 'pending' }, now);
      })
      .catch((err: unknown) => this.failBatch(ws, err))
      .finally(() => this.inFlightRequests--);
  }

  /** A whole request failed (network, nonsense): every id in it waits one interval more. */
  private failBatch(ws: Watch[], err: unknown): void {
    this.options.logger?.warn({ err: err instanceof Error ? err.message : String(err), ids: ws.length }, 'poll request failed; will poll again');
    const now = this.clock();
    for (const w of ws) { w.busy = false; w.dueAt = now + this.intervalMs; }
  }
}
