/**
 * The results dispatcher: reads `results` through the consumer group `producers`, so
 * each outcome is handled by exactly one producer instance however many run, and for
 * each one, in ONE script call with its XACK (dispatchResults.lua, a batch at a time):
 *
 *   - counts it (`stats`: `<outcome>` and `t:<tenant>:<outcome>`)
 *   - releases the task from its tenant's open-task set (admission cap; the transition
 *     that ended the task has already done it: this covers older versions and operators)
 *   - schedules its webhook (`webhooks` += task id, due now) when it has a callbackUrl
 *
 * Because the side effects and the ack commit together, a crash never counts an
 * outcome twice or loses a webhook; an entry whose instance died before the call stays
 * pending and is taken over by any instance (XAUTOCLAIM after `claimIdleMs`). An
 * instance that was only frozen and wakes with that batch finds it acked: the script
 * handles a result only if its own XACK took it.
 *
 * Loop (a small state machine; a bad entry never kills it):
 *
 *   idle ──start()──▶ running ──error──▶ backing-off ──delay──▶ running
 *                        └──── close() ──▶ stopped
 *
 *   running: every `claimEveryMs` XAUTOCLAIM entries idle past `claimIdleMs`; then
 *   XREADGROUP COUNT n BLOCK blockMs `>`; handle the batch; after a batch that was not
 *   full, linger `lingerMs` before the next read. NOGROUP (a wiped Redis) recreates the
 *   group. The group starts at `0` when first created, so outcomes already in the
 *   stream are counted once.
 *
 * Why linger: nothing here is on a client's path (long-polls and SSE are woken by the
 * results listener), and without it a steady trickle of results cost one blocking read
 * and one script call per result. Lingering 50 ms gathers a batch (100 results at
 * 2,000 tasks/s) for the same two round trips. The price: counts and the scheduling
 * of a webhook come up to `lingerMs` later. The open-task slot (admission cap) is freed
 * by the transition that ends the task (completeTask, cancelTask, requeueTask's
 * dead-letter), so a client at its cap that submits again as soon as it sees a result is
 * not refused; the release here (idempotent) covers results of older versions and an
 * operator's cancel, up to `lingerMs` late (an expired task no longer counts anyway:
 * its open record ends at deadline + grace). A full batch means a backlog: the next read
 * goes out at once.
 *
 * Uses its own `blocking` connection, which it owns and disconnects on close.
 */
import type { Redis } from 'ioredis';
import { RESULTS_GROUP, Transitions, decodeResultEntry, flattenReadReply, type Keyspace, type StreamEntry } from '@solvestream/contracts';
import type { Logger } from '@solvestream/core';

export interface DispatcherOptions {
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  /** Consumer name: this instance. */
  consumer: string;
  clock?: () => number;
  blockMs?: number;
  count?: number;
  /** Entries pending this long (their instance died) are taken over, ms. Default 60,000. */
  claimIdleMs?: number;
  claimEveryMs?: number;
  /** Pause after a batch that was not full before the next read, ms (see the module comment). Default 50; 0 = none. */
  lingerMs?: number;
}

export interface DispatcherStats {
  state: 'idle' | 'running' | 'backing-off' | 'stopped';
  handled: number;
  webhooksScheduled: number;
}

export class ResultsDispatcher {
  private readonly o: Required<Omit<DispatcherOptions, 'clock'>> & { clock: () => number };
  readonly stats: DispatcherStats = { state: 'idle', handled: 0, webhooksScheduled: 0 };
  private loop: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private lastClaim = 0;
  private readonly transitions: Transitions;

  constructor(o: DispatcherOptions) {
    this.o = { blockMs: 2_000, count: 200, claimIdleMs: 60_000, claimEveryMs: 10_000, lingerMs: 50, clock: Date.now, ...o };
    this.transitions = new Transitions(this.o.redis, this.o.keys);
  }

  start(): this {
    if (this.stats.state !== 'idle') return this;
    this.stats.state = 'running';
    this.loop = this.run();
    return this;
  }

  async close(): Promise<void> {
    if (this.stats.state === 'stopped') return this.loop;
    this.stats.state = 'stopped';
    this.stop.abort();
    this.o.redis.disconnect();
    await this.loop;
  }

  private isStopped(): boolean {
    return this.stats.state === 'stopped';
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.o.redis.xgroup('CREATE', this.o.keys.results, RESULTS_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let grouped = false;
    while (!this.isStopped()) {
      try {
        if (!grouped) {
          await this.ensureGroup();
          grouped = true;
        }
        const now = this.o.clock();
        if (now - this.lastClaim >= this.o.claimEveryMs) {
          this.lastClaim = now;
          const claimed = (await this.o.redis.xautoclaim(this.o.keys.results, RESULTS_GROUP, this.o.consumer, this.o.claimIdleMs, '0-0', 'COUNT', this.o.count)) as [string, [string, string[] | null][]];
          await this.handle(claimed[1].map(([id, fields]) => ({ stream: this.o.keys.results, id, fields })));
        }
        const reply = await this.o.redis.xreadgroup('GROUP', RESULTS_GROUP, this.o.consumer, 'COUNT', this.o.count, 'BLOCK', this.o.blockMs, 'STREAMS', this.o.keys.results, '>');
        const batch = flattenReadReply(reply);
        await this.handle(batch);
        failures = 0;
        if (this.stats.state === 'backing-off') this.stats.state = 'running';
        if (batch.length < this.o.count && this.o.lingerMs > 0) await this.sleep(this.o.lingerMs);
      } catch (err) {
        if (this.isStopped()) break;
        if (err instanceof Error && err.message.includes('NOGROUP')) grouped = false;
        if (failures === 0 || failures % 20 === 0) this.o.logger.warn({ err: err instanceof Error ? err.message : String(err), failures }, 'results dispatcher: read failed; backing off');
        this.stats.state = 'backing-off';
        await this.sleep(Math.min(100 * 2 ** Math.min(failures++, 6), 5_000));
      }
    }
  }

  /**
   * Handles one batch: every side effect and the ack in one script call. Results another
   * instance acked meanwhile (it took this batch over while this one was frozen) are
   * skipped by the script, so nothing is counted or scheduled twice.
   */
  async handle(entries: readonly StreamEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const results: { entryId: string; taskId: string; outcome: string; tenant: string }[] = [];
    const undecodable: string[] = [];
    for (const e of entries) {
      const d = e.fields ? decodeResultEntry(e.fields) : undefined;
      if (d?.ok) {
        results.push({ entryId: e.id, taskId: d.value.taskId, outcome: d.value.outcome, tenant: d.value.tenant });
      } else {
        undecodable.push(e.id);
        this.o.logger.warn({ entryId: e.id, reason: d ? d.reason : 'no payload' }, 'results dispatcher: skipping an undecodable result');
      }
    }
    const done = await this.transitions.dispatchResults({ group: RESULTS_GROUP, now: this.o.clock(), results, undecodable });
    this.stats.handled += done.handled;
    this.stats.webhooksScheduled += done.webhooks;
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }
}
