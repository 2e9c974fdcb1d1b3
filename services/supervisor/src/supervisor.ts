/**
 * The supervisor loop. Every `intervalMs`:
 *   1. reclaim entries idle past the lease (XAUTOCLAIM → requeue with checkpoint, or dead-letter)
 *   2. promote due delayed retries back to their lanes
 *   3. every `consumerSweepMs`: remove idle consumers with empty pending lists
 *   4. degradation mode, when a controller is given (mode.ts; it paces itself)
 *
 * States: RUNNING → STOPPED. Each step's errors are logged and the loop goes on at the
 * next tick (Redis down: it retries until Redis is back). Several replicas may run: every
 * step is safe under concurrency (see reclaimer.ts, promoteTask.lua).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@solvestream/core';
import { ensureWorkerGroups, promoteDue, type Keyspace, type Transitions } from '@solvestream/contracts';
import { reclaimStalled, type ReclaimReport } from './reclaimer';
import { removeIdleConsumers } from './consumers';

export interface SupervisorOptions {
  redis: Redis;
  keys: Keyspace;
  transitions: Transitions;
  logger: Logger;
  consumer: string;
  leaseMs: number;
  maxFailures: number;
  intervalMs: number;
  /** Reclaim hold of a claimed task without a checkpoint, ms (reclaimer.ts). Default 5,000; 0 = none. */
  reclaimHoldMs?: number;
  /** How often idle consumers are swept, ms. Default 60,000. */
  consumerSweepMs?: number;
  /** A consumer idle this long with nothing pending is removed, ms. Default 10 × lease. */
  consumerIdleMs?: number;
  clock?: () => number;
  /** Computes and stores the degradation mode (mode.ts); absent = the mode is left alone. */
  mode?: { tick(now: number): Promise<unknown> };
}

export interface SupervisorStats {
  ticks: number;
  /** Stalled deliveries requeued, `held` of them through the reclaim hold (reclaimer.ts). */
  reclaimed: number;
  held: number;
  deadLettered: number;
  poison: number;
  promoted: number;
  consumersRemoved: number;
  errors: number;
  lastTickAt: number;
}

export class Supervisor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastConsumerSweep = 0;
  private stopped = false;
  readonly stats: SupervisorStats = { ticks: 0, reclaimed: 0, held: 0, deadLettered: 0, poison: 0, promoted: 0, consumersRemoved: 0, errors: 0, lastTickAt: 0 };

  constructor(private readonly o: SupervisorOptions) {}

  async start(): Promise<void> {
    await ensureWorkerGroups(this.o.redis, this.o.keys).catch((err: Error) => this.o.logger.warn({ err: err.message }, 'cannot create groups yet'));
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.o.intervalMs));
    }, ms);
  }

  /** One pass of every duty. Exposed for tests. */
  async tick(): Promise<void> {
    const clock = this.o.clock ?? Date.now;
    this.stats.ticks++;
    try {
      const r: ReclaimReport = await reclaimStalled({ ...this.o, holdMs: this.o.reclaimHoldMs, clock });
      this.stats.reclaimed += r.reclaimed;
      this.stats.held += r.held;
      this.stats.deadLettered += r.deadLettered;
      this.stats.poison += r.poison;
    } catch (err) {
      this.fail('reclaim', err);
    }
    try {
      const p = await promoteDue(this.o.redis, this.o.keys, this.o.transitions, clock());
      this.stats.promoted += p.promoted;
      this.stats.poison += p.poison;
      // The failed ones stay due and are tried again next tick; say so once per tick.
      if (p.failed) this.fail('promote', new Error(`${p.failed} due retries not promoted (left for the next tick): ${p.firstError}`));
    } catch (err) {
      this.fail('promote', err);
    }
    if (clock() - this.lastConsumerSweep >= (this.o.consumerSweepMs ?? 60_000)) {
      this.lastConsumerSweep = clock();
      try {
        this.stats.consumersRemoved += await removeIdleConsumers(this.o.redis, this.o.keys, this.o.consumerIdleMs ?? this.o.leaseMs * 10, this.o.logger, this.o.consumer,
          (lane, name) => this.o.transitions.removeConsumer(lane, name));
      } catch (err) {
        this.fail('consumer sweep', err);
      }
    }
    if (this.o.mode) {
      try {
        await this.o.mode.tick(clock());
      } catch (err) {
        this.fail('mode', err);
      }
    }
    this.stats.lastTickAt = clock();
  }

  private fail(step: string, err: unknown): void {
    this.stats.errors++;
    const message = err instanceof Error ? err.message : String(err);
    this.o.logger.error({ step, err: message }, 'supervisor step failed; retrying next tick');
    if (message.includes('NOGROUP')) void ensureWorkerGroups(this.o.redis, this.o.keys).catch(() => undefined);
  }

  /** Stops after the current tick. Safe to call twice. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
