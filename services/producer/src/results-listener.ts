/**
 * One listener per process on the `results` stream, waking the long-polls
 * (`GET /v1/tasks/:id?wait=`) of the tasks it sees finish.
 *
 * A long-poll registers a watch for its task id FIRST and only then reads the
 * projection; a result that lands in between still wakes the watch, so no completion
 * can slip between "read: queued" and "start waiting". A wake-up is only a hint: the
 * waiter always re-reads the projection (the truth) afterwards.
 *
 * Loop (a small state machine; a handler bug never kills it):
 *
 *   idle ──start()──▶ running ──XREAD error──▶ backing-off ──delay──▶ running
 *                        │                                              │
 *                        └────────────── close() ──▶ stopped ◀──────────┘
 *
 *   running: `XREAD COUNT n BLOCK blockMs STREAMS <results> <lastId>` on a dedicated
 *   `blocking` connection, waking the watchers of every task id in the reply.
 *
 * Where it reads from. Start-up means "from `$`", but `$` is resolved ONCE into the
 * id of the stream's last entry (`0-0` for an empty stream): re-sending a literal `$`
 * after every timed-out read would skip results added between two reads. After that
 * the loop continues from the last id it saw.
 *
 * Redis restarts. ioredis reconnects on its own (and may re-send the pending XREAD);
 * every reconnect after the first (`ready` event) wakes ALL watchers with `recheck`,
 * because results written while we were away, or lost with the old data set, can only
 * be found in the projections. Before the next read the loop also checks the stream
 * did not go backwards (a wiped or restored Redis): if its last id is now below ours,
 * it restarts from that tail and wakes everyone once more. Read errors back off
 * (100 ms doubling to 5 s) and resume.
 *
 * `close()` wakes every watcher with `closed` (so long-polls answer at once with the
 * current state), stops the loop and disconnects the blocking connection, which this
 * listener owns. Safe to call twice.
 */
import type { Redis } from 'ioredis';
import { decodeResultEntry, fieldsToObject, flattenReadReply, type Keyspace, type ResultEntry } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';

export type WakeReason = 'result' | 'recheck' | 'closed';

export interface Watch {
  /** Resolves once: a result for the task was seen, Redis came back (re-read!), or the notifier closed. */
  readonly woken: Promise<WakeReason>;
  /** Stops watching; idempotent. Call it in a `finally`. */
  cancel(): void;
}

/** Called with every decodable result the listener reads (SSE streams); must not throw. */
export type ResultSubscriber = (entryId: string, result: ResultEntry) => void;

/** What the HTTP layer needs from a results listener (tests may hand in their own). */
export interface ResultsNotifier {
  watch(taskId: string): Watch;
  /** Every result from now on, in stream order; returns the unsubscribe function. */
  subscribe(fn: ResultSubscriber): () => void;
  close(): Promise<void>;
  stats(): NotifierStats;
}

export type ListenerState = 'idle' | 'running' | 'backing-off' | 'stopped';

export interface NotifierStats {
  state: ListenerState;
  /** Long-polls currently waiting. */
  waiters: number;
  lastId?: string;
}

export interface ResultsListenerOptions {
  /** A dedicated `role: 'blocking'` connection; the listener owns it and disconnects it on close. */
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  /** XREAD BLOCK, ms. Default 5,000: how long a silent read lasts before it is re-issued. */
  blockMs?: number;
  /** XREAD COUNT. Default 1,000. */
  count?: number;
  /** Delay before the next read after `failures` consecutive errors, ms. Default 100 ms doubling to 5 s. */
  backoffMs?: (failures: number) => number;
}

const defaultBackoff = (failures: number): number => Math.min(100 * 2 ** Math.min(failures, 6), 5_000);

/** Stream ids `ms-seq` compared numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

type Waiter = (reason: WakeReason) => void;

export class ResultsListener implements ResultsNotifier {
  private readonly redis: Redis;
  private readonly keys: Keyspace;
  private readonly logger: Logger;
  private readonly blockMs: number;
  private readonly count: number;
  private readonly backoffMs: (failures: number) => number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly subscribers = new Set<ResultSubscriber>();
  private waiterCount = 0;
  private state: ListenerState = 'idle';
  private lastId: string | undefined;
  private resync = false;
  private connectedOnce = false;
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(o: ResultsListenerOptions) {
    this.redis = o.redis;
    this.keys = o.keys;
    this.logger = o.logger;
    this.blockMs = o.blockMs ?? 5_000;
    this.count = o.count ?? 1_000;
    this.backoffMs = o.backoffMs ?? defaultBackoff;
  }

  /** Starts the read loop (no I/O before this). */
  start(): this {
    if (this.state !== 'idle') return this;
    this.state = 'running';
    this.connectedOnce = this.redis.status === 'ready';
    this.redis.on('ready', this.onReady);
    this.loop = this.run();
    return this;
  }

  watch(taskId: string): Watch {
    if (this.state === 'stopped') return { woken: Promise.resolve('closed'), cancel: () => undefined };
    let waiter!: Waiter;
    const woken = new Promise<WakeReason>((resolve) => (waiter = resolve));
    let set = this.waiters.get(taskId);
    if (!set) this.waiters.set(taskId, (set = new Set()));
    set.add(waiter);
    this.waiterCount++;
    return {
      woken,
      cancel: () => {
        const s = this.waiters.get(taskId);
        if (s?.delete(waiter)) {
          this.waiterCount--;
          if (s.size === 0) this.waiters.delete(taskId);
        }
      },
    };
  }

  subscribe(fn: ResultSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  stats(): NotifierStats {
    return { state: this.state, waiters: this.waiterCount, ...(this.lastId ? { lastId: this.lastId } : {}) };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'stopped';
      this.stop.abort();
      this.wakeAll('closed');
      this.redis.off('ready', this.onReady);
      this.redis.disconnect();
      await this.loop;
    })();
    return this.closing;
  }

  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private readonly onReady = (): void => {
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      return;
    }
    this.logger.info('results listener reconnected: waking long-polls to re-read');
    this.resync = true;
    this.wakeAll('recheck');
  };

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped()) {
      try {
        await this.syncPosition();
        const reply = await this.redis.xread('COUNT', this.count, 'BLOCK', this.blockMs, 'STREAMS', this.keys.results, this.lastId ?? '$');
        if (failures > 0) this.logger.info({ failures }, 'results listener resumed');
        failures = 0;
        this.dispatch(reply);
      } catch (err) {
        if (this.stopped()) break;
        this.resync = true;
        if (failures === 0 || failures % 20 === 0) this.logger.warn({ err, failures }, 'results listener: read failed; backing off');
        this.state = 'backing-off';
        await this.sleep(this.backoffMs(failures++));
        if (this.state === 'backing-off') this.state = 'running';
      }
    }
  }

  /**
   * Resolves `$` once; after a reconnect or a read error, follows the stream back if it
   * was wiped or restored. Either way every current watcher is then told to re-read:
   * whatever finished before this point is visible in the projections.
   */
  private async syncPosition(): Promise<void> {
    if (this.lastId !== undefined && !this.resync) return;
    this.resync = false; // before the await: a reconnect during it asks again
    const tail = await this.tailId();
    if (this.lastId === undefined) {
      this.lastId = tail;
    } else if (compareStreamIds(tail, this.lastId) < 0) {
      this.logger.warn({ lastId: this.lastId, tail }, 'results stream went backwards (Redis wiped or restored): following it');
      this.lastId = tail;
    }
    this.wakeAll('recheck');
  }

  private async tailId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.keys.results, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return last[0]?.[0] ?? '0-0';
  }

  private dispatch(reply: unknown): void {
    for (const entry of flattenReadReply(reply)) {
      this.lastId = entry.id;
      if (!entry.fields) continue;
      try {
        const decoded = decodeResultEntry(entry.fields);
        const taskId = decoded.ok ? decoded.value.taskId : fieldsToObject(entry.fields).task;
        if (taskId) this.wake(taskId, 'result');
        if (decoded.ok) for (const fn of this.subscribers) fn(entry.id, decoded.value);
      } catch (err) {
        this.logger.error({ err, entryId: entry.id }, 'results listener: could not dispatch an entry');
      }
    }
  }

  private wake(taskId: string, reason: WakeReason): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    this.waiterCount -= set.size;
    for (const w of set) w(reason);
  }

  private wakeAll(reason: WakeReason): void {
    for (const taskId of [...this.waiters.keys()]) this.wake(taskId, reason);
  }

  /** Waits `ms`, or less if the listener closes meanwhile. */
  private sleep(ms: number): Promise<void> {
    const signal = this.stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }
}
